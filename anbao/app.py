"""The Falcon app factory: the one place where settings become a wired application."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from anbao.settings import Settings
from anbao.web import bodies, errors
from anbao.web.accesslog import AccessLog
from anbao.web.asgi_app import AsgiApp
from anbao.web.health import Dependency, Readiness, blocking_probe, keycloak_probe
from anbao.web.metrics import Metrics
from anbao.web.middleware import RequestContextMiddleware
from anbao.web.openapi import Api
from anbao.web.path_params import PathParameterCheck
from anbao.web.resources import Health, MetricsResource, OpenApiDocument, Ready, WhoAmI
from anbao.wiring import analyst_scope, identity_events
from anbao.wiring import compliance as compliance_wiring
from anbao.wiring import people as people_wiring
from anbao.wiring import seals as seal_wiring
from anbao.wiring import siem as siem_wiring
from anbao.wiring import siem_alerts as siem_alerts_wiring
from anbao.wiring.audit import (
    AuditLifespan,
    AuditRuntime,
    build_audit_runtime,
    build_audit_store,
    register_metrics,
)
from anbao.wiring.audit_integrity import add_audit_integrity, audit_guard, build_audit_integrity
from anbao.wiring.iam import (
    build_app_directory,
    build_app_service,
    build_introspection,
    build_org_directory,
    build_verifier,
)
from anbao.wiring.role_audit import RecorderRoleAudit
from anbao.wiring.siem_alerts import SiemAlerts, build_siem_alerts
from audit.integrity.service import IntegrityService
from audit.ports import AuditStore
from audit.recording.recorder import Recorder
from audit.recording.recorder import current as current_recorder
from audit.search.setup import add_search_routes
from crypto.seals import resources as seal_resources
from crypto.seals.registry.ports import AuditTrail
from iam.apps.resources import add_routes as add_app_routes
from iam.apps.role_audit import RoleAudit
from iam.apps.roles import AppRoleService
from iam.apps.service import AppDirectory
from iam.orgs import resources as orgs_resources
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.ports import OrgDirectory
from iam.orgs.scope import resolve_scope
from iam.orgs.service import OrgService
from iam.tokens.falcon import AuthMiddleware
from iam.tokens.introspection import IntrospectionCache
from iam.tokens.keycloak import issuer_url
from iam.tokens.verifier import TokenVerifier
from policies.ports import RealmInspector
from siem.alerts.service import QueuedSink


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
    apps = parts.app_directory or build_app_directory(settings)
    add_app_routes(
        api,
        build_app_service(settings, apps, parts.clock),
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
        file_trust=lambda: seal_wiring.build_seal_trust(settings),
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

    integrity = add_audit_integrity(
        api,
        settings,
        parts.audit_integrity or build_audit_integrity(settings, parts.clock),
        audit_store,
        recorder,
    )
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
