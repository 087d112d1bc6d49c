"""The Falcon app factory: the one place where settings become a wired application."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import falcon
import falcon.asgi
import httpx

from anbao import errors
from anbao.health import Dependency, Readiness, blocking_probe, keycloak_probe
from anbao.metrics import Metrics
from anbao.middleware import RequestContextMiddleware
from anbao.openapi import Api
from anbao.resources import Health, MetricsResource, OpenApiDocument, Ready, WhoAmI
from anbao.settings import AuditStoreKind, Settings
from anbao.web import AsgiApp
from audit.elasticsearch import ElasticsearchAuditStore
from audit.ports import AuditStore
from audit.sqlite import SqliteAuditStore
from iam.apps_keycloak import KeycloakAppDirectory, admin_factory
from iam.apps_resources import add_routes as add_app_routes
from iam.apps_service import AppDirectory, AppService
from iam.falcon_auth import AuthMiddleware
from iam.introspection import IntrospectionCache
from iam.keycloak import KeycloakJwks, issuer_url, keycloak_introspection
from iam.tokens import TokenVerifier


@dataclasses.dataclass(slots=True)
class Parts:
    """Swappable parts; tests pass their own, everything else is built from settings."""

    verifier: TokenVerifier | None = None
    audit_store: AuditStore | None = None
    clock: Callable[[], float] = time.time
    app_directory: AppDirectory | None = None


def build_audit_store(settings: Settings) -> AuditStore:
    if settings.audit.store is AuditStoreKind.ELASTICSEARCH:
        es = settings.elasticsearch
        return ElasticsearchAuditStore(
            es.url,
            username=es.username,
            password=es.password.reveal(),
            ca_file=es.ca_file,
            timeout=es.timeout_seconds,
        )
    return SqliteAuditStore(settings.audit.sqlite_path)


def build_verifier(settings: Settings, clock: Callable[[], float]) -> TokenVerifier:
    kc = settings.keycloak
    return TokenVerifier(
        issuer=issuer_url(kc.url, kc.realm),
        audience=kc.audience,
        jwks=KeycloakJwks(kc.url, kc.realm, timeout=kc.timeout_seconds),
        clock=clock,
    )


def build_introspection(
    settings: Settings, clock: Callable[[], float]
) -> IntrospectionCache | None:
    """RFC 7662 for ``requires(introspect=True)`` routes; off without a client secret."""
    kc = settings.keycloak
    if not kc.client_secret:
        return None
    return keycloak_introspection(
        kc.url,
        kc.realm,
        client_id=kc.client_id,
        client_secret=kc.client_secret.reveal(),
        clock=clock,
        ttl_seconds=kc.introspection_ttl_seconds,
        timeout=kc.timeout_seconds,
    )


def build_app_service(settings: Settings, parts: Parts) -> AppService:
    """App onboarding: apps become OIDC clients through the Keycloak admin API."""
    kc = settings.keycloak
    directory = parts.app_directory or KeycloakAppDirectory(
        admin_factory(
            kc.url,
            kc.realm,
            username=kc.admin_username,
            password=kc.admin_password.reveal(),
            timeout=max(kc.timeout_seconds, 10.0),
        ),
        kc.realm,
    )
    return AppService(directory, issuer=issuer_url(kc.url, kc.realm), clock=parts.clock)


def create_app(settings: Settings, parts: Parts | None = None) -> AsgiApp:
    parts = parts or Parts()
    metrics = Metrics()
    verifier = parts.verifier or build_verifier(settings, parts.clock)
    introspection = build_introspection(settings, parts.clock)
    audit_store = parts.audit_store or build_audit_store(settings)
    http = httpx.AsyncClient(timeout=settings.keycloak.timeout_seconds)

    middleware: list[Any] = [
        RequestContextMiddleware(
            metrics,
            max_body_bytes=settings.server.max_body_bytes,
            access_log_enabled=settings.server.access_log,
        ),
        AuthMiddleware(verifier, introspection=introspection),
    ]
    app: AsgiApp = falcon.asgi.App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)

    readiness = Readiness(
        [
            Dependency(
                "keycloak",
                keycloak_probe(issuer_url(settings.keycloak.url, settings.keycloak.realm), http),
                required=settings.keycloak.required,
            ),
            Dependency(f"audit_store:{audit_store.kind}", blocking_probe(audit_store.ping)),
        ],
        metrics,
        timeout=settings.keycloak.timeout_seconds,
    )

    api = Api(app)
    api.add_route("/healthz", Health())
    api.add_route("/readyz", Ready(readiness))
    api.add_route("/metrics", MetricsResource(metrics))
    api.add_route("/openapi.json", OpenApiDocument(api))
    api.add_route("/whoami", WhoAmI())
    add_app_routes(api, build_app_service(settings, parts))

    async def close() -> None:
        await http.aclose()
        verifier.close()
        if introspection is not None:
            introspection.close()
        audit_store.close()

    app.add_middleware(_Lifespan(close))
    return app


class _Lifespan:
    """Closes clients when the server shuts down."""

    def __init__(self, close: Callable[[], Awaitable[None]]) -> None:
        self._close = close

    async def process_shutdown(self, scope: object, event: object) -> None:
        del scope, event
        await self._close()
