"""The Falcon app factory: the one place where settings become a wired application."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import ipaddress
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import falcon
import falcon.asgi
import httpx

from anbao import (
    analyst_scope,
    bodies,
    compliance_wiring,
    errors,
    identity_events,
    people_wiring,
    seal_wiring,
    siem_alerts_wiring,
    siem_wiring,
)
from anbao.accesslog import AccessLog
from anbao.audit_wiring import (
    AuditLifespan,
    AuditRuntime,
    build_audit_integrity,
    build_audit_runtime,
    build_audit_store,
    register_metrics,
)
from anbao.health import Dependency, Readiness, blocking_probe, keycloak_probe
from anbao.metrics import Metrics
from anbao.middleware import RequestContextMiddleware
from anbao.openapi import Api
from anbao.path_params import PathParameterCheck
from anbao.resources import Health, MetricsResource, OpenApiDocument, Ready, WhoAmI
from anbao.role_audit_wiring import RecorderRoleAudit
from anbao.settings import Environment, Settings, SettingsError
from anbao.siem_alerts_wiring import SiemAlerts, build_siem_alerts
from anbao.web import AsgiApp
from audit.integrity import resources as integrity_resources
from audit.integrity.service import HeadTicker, IntegrityService
from audit.integrity.setup import build_field_cipher
from audit.model import Outcome, ResourceRef, UserInfo
from audit.ports import AuditStore
from audit.recording.recorder import Recorder
from audit.recording.recorder import current as current_recorder
from audit.search.setup import add_search_routes
from audit.sensitive.service import REVEAL_ACTION, Actor, RevealService
from crypto.seals import resources as seal_resources
from crypto.seals.registry.ports import AuditTrail
from iam import orgs_resources
from iam.apps_keycloak import KeycloakAppDirectory, admin_factory
from iam.apps_resources import add_routes as add_app_routes
from iam.apps_roles import AppRoleService
from iam.apps_service import AppDirectory, AppService
from iam.errors import IamError
from iam.falcon_auth import AuthMiddleware, Requirement, org_scope
from iam.introspection import IntrospectionCache
from iam.keycloak import KeycloakJwks, issuer_url, keycloak_introspection
from iam.orgs_keycloak import KeycloakOrgDirectory
from iam.orgs_keycloak_admin import KeycloakAdminClient
from iam.orgs_ports import OrgDirectory
from iam.orgs_service import OrgService
from iam.role_audit import RoleAudit
from iam.scope import canonical_path, resolve_scope
from iam.tokens import TokenVerifier
from policies.ports import RealmInspector
from siem.alerts import QueuedSink


@dataclasses.dataclass(slots=True)
class Parts:
    """Swappable parts; tests pass their own, everything else is built from settings."""

    verifier: TokenVerifier | None = None
    audit_store: AuditStore | None = None
    #: Spool, recorder and shipper; built from settings unless ``audit_store`` is swapped in.
    audit_runtime: AuditRuntime | None = None
    clock: Callable[[], float] = time.time
    audit_integrity: IntegrityService | None = None
    #: The audit recorder; default: the audit runtime's (it records reveals, seals, decisions).
    audit_recorder: Recorder | None = None
    app_directory: AppDirectory | None = None
    org_directory: OrgDirectory | None = None
    seal_trust: seal_resources.TrustSource | None = None
    #: Where role grants and revocations go; default: the audit recorder (fail closed).
    role_audit: RoleAudit | None = None
    #: Where seal lifecycle events go; default: the audit recorder (seals.enabled only).
    seal_audit: AuditTrail | None = None
    #: Alerts, notifications and responses; built from settings [siem] unless given.
    siem_alerts: SiemAlerts | None = None
    access_log: AccessLog | None = None
    #: Evidence of the realm checks; default: Keycloak's admin API (compliance.enabled only).
    compliance_realm: RealmInspector | None = None
    #: RFC 7662 for high-risk routes; default: Keycloak with keycloak.client_id/client_secret.
    introspection: IntrospectionCache | None = None


def build_verifier(settings: Settings, clock: Callable[[], float]) -> TokenVerifier:
    kc = settings.keycloak
    return TokenVerifier(
        issuer=issuer_url(kc.url, kc.realm),
        audience=kc.audience,
        jwks=KeycloakJwks(kc.url, kc.realm, timeout=kc.timeout_seconds),
        clock=clock,
    )


def build_org_directory(settings: Settings) -> KeycloakOrgDirectory:
    """The org tree in Keycloak, administered with Anbao's own admin credentials."""
    kc = settings.keycloak
    admin = KeycloakAdminClient(
        kc.url,
        kc.realm,
        username=kc.admin_username,
        password=kc.admin_password.reveal(),
        timeout=max(kc.timeout_seconds, 10.0),
    )
    return KeycloakOrgDirectory(admin)


def build_introspection(
    settings: Settings, clock: Callable[[], float]
) -> IntrospectionCache | None:
    """RFC 7662 for high-risk routes; without a client secret they are refused (503), and
    production settings refuse to start without one (:meth:`Settings.validate`)."""
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


def build_app_directory(settings: Settings, parts: Parts) -> AppDirectory:
    """App onboarding: apps become OIDC clients through the Keycloak admin API."""
    kc = settings.keycloak
    return parts.app_directory or KeycloakAppDirectory(
        admin_factory(
            kc.url,
            kc.realm,
            username=kc.admin_username,
            password=kc.admin_password.reveal(),
            timeout=max(kc.timeout_seconds, 10.0),
        ),
        kc.realm,
    )


def build_app_service(
    settings: Settings, parts: Parts, apps: AppDirectory | None = None
) -> AppService:
    """App onboarding over the realm's clients (the API's and ``anbao dev seed``'s)."""
    kc = settings.keycloak
    directory = apps or build_app_directory(settings, parts)
    return AppService(directory, issuer=issuer_url(kc.url, kc.realm), clock=parts.clock)


async def audit_guard(req: falcon.asgi.Request, any_role: frozenset[str], acr: str | None) -> Actor:
    """The audit resources' authorization: one of ``any_role``, optional step-up ``acr``.

    The caller's scope is its live org binding (:func:`iam.falcon_auth.org_scope`), never the
    token's ``org_path`` claim, which is kept only to attribute the caller's own events.
    """
    principal = Requirement(any_role=any_role, acr=acr).check(
        getattr(req.context, "principal", None)
    )
    try:
        source_ip = str(ipaddress.ip_address(req.remote_addr or ""))
    except ValueError:
        source_ip = ""
    scope = await org_scope(req)
    return Actor(
        principal.subject,
        principal.username,
        tuple(sorted(principal.roles)),
        principal.org_path,
        source_ip,
        scope_path=scope.filter_path,
    )


def reveal_refusals(recorder: Recorder) -> integrity_resources.RevealRefused:
    """Records a reveal the guard refused to a signed-in person (a missing role or step-up) as
    ``audit.pii.reveal`` failure, the ``pii_reveal_refused`` detection's event; an anonymous
    request is the API middleware's (``api_denied``)."""

    async def refused(req: falcon.asgi.Request, event_id: str, exc: Exception) -> None:
        principal = getattr(req.context, "principal", None)
        if principal is None or not isinstance(exc, IamError):
            return
        try:
            source_ip = str(ipaddress.ip_address(req.remote_addr or ""))
        except ValueError:
            source_ip = ""
        event = recorder.event(
            REVEAL_ACTION,
            Outcome.FAILURE,
            category=("iam",),
            type=("access", "denied"),
            reason=exc.code,
            user=UserInfo(principal.subject, principal.username, tuple(sorted(principal.roles))),
            org_path=principal.org_path if canonical_path(principal.org_path) else "",
            source_ip=source_ip,
            resource=ResourceRef("audit_event", event_id),
            labels={"fields": "all"},
        )
        await recorder.arecord_event(event)

    return refused


def build_seal_trust(settings: Settings) -> seal_resources.FileTrust:
    """Trust material of ``POST /seals/verify`` from files (reloaded when they change)."""
    sv = settings.seal_verify
    crls = tuple(p.strip() for p in sv.crl_files.split(",") if p.strip())
    trust = seal_resources.FileTrust(sv.trust_roots_file, sv.intermediates_file, crls)
    try:
        trust.trust()  # fail fast on a missing or malformed file
    except Exception as exc:  # noqa: BLE001 - any failure here is a bad setting, named below
        raise SettingsError(
            "seal_verify.trust_roots_file",
            f"trust material cannot be loaded ({type(exc).__name__}: {exc})",
        ) from None
    return trust


def add_audit_integrity(
    api: Api,
    settings: Settings,
    parts: Parts,
    audit_store: AuditStore,
    recorder: Recorder | None,
) -> IntegrityService:
    """Proof, heads and reveal routes; tree heads signed in the background while serving.

    Reveal is served wherever a recorder can audit it first (the platform's own, or the one
    a test passes): a reveal nobody records is not offered.
    """
    integrity = parts.audit_integrity or build_audit_integrity(settings, parts.clock)
    reveal = None
    if recorder is not None:
        cipher = build_field_cipher(
            settings.audit_integrity.field_keyring_file,
            create_missing=settings.environment is Environment.DEVELOPMENT,
        )
        reveal = RevealService(audit_store, cipher, recorder)
    integrity_resources.add_routes(
        api,
        integrity=integrity,
        store=audit_store,
        guard=audit_guard,
        reveal=reveal,
        on_reveal_refused=reveal_refusals(recorder) if recorder is not None else None,
    )
    api.app.add_middleware(integrity_resources.HeadTickerLifespan(HeadTicker(integrity)))
    return integrity


def create_app(settings: Settings, parts: Parts | None = None) -> AsgiApp:  # noqa: PLR0915
    parts = parts or Parts()
    metrics = Metrics()
    verifier = parts.verifier or build_verifier(settings, parts.clock)
    introspection = parts.introspection or build_introspection(settings, parts.clock)
    org_directory = parts.org_directory or build_org_directory(settings)
    audit_store = parts.audit_store or build_audit_store(settings)
    audit_runtime = parts.audit_runtime
    if audit_runtime is None and parts.audit_store is None:
        audit_runtime = build_audit_runtime(settings, audit_store)
    http = httpx.AsyncClient(timeout=settings.keycloak.timeout_seconds)

    access_log = parts.access_log or (
        AccessLog(writer_process=True) if settings.server.access_log else None
    )

    auditor = None
    if audit_runtime is not None:
        register_metrics(metrics, audit_runtime)
        if settings.audit.record_requests:
            auditor = audit_runtime.request_auditor(settings)
    middleware: list[Any] = [
        RequestContextMiddleware(
            metrics,
            max_body_bytes=settings.server.max_body_bytes,
            access_log=access_log,
            request_auditor=auditor,
        ),
        AuthMiddleware(
            verifier,
            introspection=introspection,
            scopes=functools.partial(resolve_scope, org_directory),
        ),
        PathParameterCheck(),
    ]
    if access_log is not None:
        middleware.append(access_log)
    app: AsgiApp = bodies.App(
        middleware=middleware, body_timeout_seconds=settings.server.body_timeout_seconds
    )
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
    recorder = parts.audit_recorder or (audit_runtime.recorder if audit_runtime else None)
    role_audit = parts.role_audit or RecorderRoleAudit(lambda: recorder or current_recorder())
    apps = build_app_directory(settings, parts)
    add_app_routes(
        api,
        build_app_service(settings, parts, apps),
        AppRoleService(apps, org_directory, role_audit),
    )
    org_service = OrgService(org_directory, audit=role_audit)
    invitations = people_wiring.attach(
        api, settings, org_service, lambda: recorder or current_recorder(), clock=parts.clock
    )
    orgs_resources.add_routes(api, org_service, invitations)
    if recorder is not None:  # a grant of introspection nobody records is not offered
        analyst_scope.add_routes(api, org_service, recorder)
    registry = seal_wiring.attach(
        api,
        settings,
        recorder=recorder,
        clock=lambda: dt.datetime.fromtimestamp(parts.clock(), dt.UTC),
        readiness=readiness,
        trust=parts.seal_trust,
        file_trust=lambda: build_seal_trust(settings),
        audit=parts.seal_audit,
        orgs=seal_wiring.DirectoryOrgTree(org_directory),
    )

    siem_alerts = parts.siem_alerts or build_siem_alerts(
        settings,
        recorder=recorder,
        registry=registry,
        clock=lambda: dt.datetime.fromtimestamp(parts.clock(), dt.UTC),
    )
    siem_alerts_wiring.attach(api, settings, siem_alerts, readiness)
    if audit_runtime is not None and settings.siem.streaming:
        siem_wiring.attach_streaming(
            audit_runtime,
            QueuedSink(siem_alerts.alerts),
            settings,
            clock=lambda: dt.datetime.fromtimestamp(parts.clock(), dt.UTC),
        )

    integrity = add_audit_integrity(api, settings, parts, audit_store, recorder)
    compliance_wiring.attach(
        api,
        settings,
        realm=parts.compliance_realm,
        integrity=integrity,
        audit_store=audit_store,
        registry=registry,
        recorder=recorder,
    )
    if audit_runtime is not None:  # leaves are logged once the store holds the events
        audit_runtime.shipper.on_stored = integrity.append_records
    add_search_routes(
        api,
        audit_store,
        guard=audit_guard,
        clock=lambda: dt.datetime.fromtimestamp(parts.clock(), dt.UTC),
        saved_path=Path(settings.audit.sqlite_path).with_name("saved-searches.sqlite3"),
        new_id=lambda: uuid.uuid4().hex,
    )

    async def close() -> None:
        await http.aclose()
        integrity.log.close()
        verifier.close()
        if introspection is not None:
            introspection.close()
        audit_store.close()
        if isinstance(org_directory, KeycloakOrgDirectory):
            org_directory.admin.close()

    app.add_middleware(_Lifespan(close))
    if audit_runtime is not None:
        app.add_middleware(AuditLifespan(audit_runtime))
        pulling = identity_events.attach(settings, audit_runtime.recorder, org_directory)
        if pulling is not None:  # Keycloak's events into the audit trail (one worker pulls)
            app.add_middleware(pulling)
    return app


class _Lifespan:
    """Closes clients when the server shuts down."""

    def __init__(self, close: Callable[[], Awaitable[None]]) -> None:
        self._close = close

    async def process_shutdown(self, scope: object, event: object) -> None:
        del scope, event
        await self._close()
