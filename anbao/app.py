"""The Falcon app factory: the one place where settings become a wired application.

:func:`create_app` reads top to bottom: the parts every feature shares (token verification,
the org directory, the audit store and runtime), the edge middleware, then the features, each
built in full by its wiring module in :mod:`anbao.wiring` and handed back as a
:class:`~anbao.wiring.feature.Feature` (routes, readiness checks, lifespan jobs). Nothing is set
on a built object afterwards, and nothing starts before the ASGI lifespan does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Callable
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
from anbao.web.resources import ALIVE, Health, MetricsResource, OpenApiDocument, Ready, WhoAmI
from anbao.wiring import audit_integrity, compliance, console, identity_events, seals, siem_alerts
from anbao.wiring.audit import (
    AuditLifespan,
    AuditRuntime,
    build_audit_store,
    build_recorder,
    register_metrics,
    retention_job,
)
from anbao.wiring.delivery import delivering_runtime
from anbao.wiring.feature import Feature, OnShutdown
from anbao.wiring.iam import (
    apps_feature,
    build_app_directory,
    build_introspection,
    build_org_directory,
    build_verifier,
    orgs_feature,
)
from anbao.wiring.people import build_invitations
from anbao.wiring.role_audit import RecorderRoleAudit
from anbao.wiring.siem_alerts import SiemAlerts, build_siem_alerts
from audit.integrity.service import IntegrityService
from audit.ports import AuditStore
from audit.recording.recorder import Recorder
from audit.recording.recorder import current as current_recorder
from crypto.seals.registry.ports import AuditTrail
from crypto.seals.resources import TrustSource
from iam.apps.service import AppDirectory
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.ports import OrgDirectory
from iam.orgs.scope import resolve_scope
from iam.orgs.service import OrgService
from iam.role_audit import RoleAudit
from iam.tokens.falcon import AuthMiddleware
from iam.tokens.introspection import IntrospectionCache
from iam.tokens.keycloak import issuer_url
from iam.tokens.verifier import TokenVerifier
from policies.ports import RealmInspector


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Parts:
    """The seams tests swap parts in at; every part left None is built from settings."""

    clock: Callable[[], float] = time.time
    verifier: TokenVerifier | None = None
    #: RFC 7662 for high-risk routes; default: Keycloak with keycloak.client_id/client_secret.
    introspection: IntrospectionCache | None = None
    org_directory: OrgDirectory | None = None
    app_directory: AppDirectory | None = None
    audit_store: AuditStore | None = None
    #: Spool, recorder and shipper, built from settings unless ``audit_store`` is swapped in.
    #: A test's runtime is used as given: it carries the delivery hooks the test gave it.
    audit_runtime: AuditRuntime | None = None
    #: The audit recorder; default: the audit runtime's (it records reveals, seals, decisions).
    audit_recorder: Recorder | None = None
    audit_integrity: IntegrityService | None = None
    #: Where role grants and revocations go; default: the audit recorder (fail closed).
    role_audit: RoleAudit | None = None
    #: Where seal lifecycle events go; default: the audit recorder (seals.enabled only).
    seal_audit: AuditTrail | None = None
    seal_trust: TrustSource | None = None
    #: Alerts, notifications and responses; built from settings [siem] unless given.
    siem_alerts: SiemAlerts | None = None
    #: Evidence of the realm checks; default: Keycloak's admin API (compliance.enabled only).
    compliance_realm: RealmInspector | None = None
    access_log: AccessLog | None = None


def create_app(settings: Settings, parts: Parts | None = None) -> AsgiApp:
    parts = parts or Parts()
    now = functools.partial(_utc, parts.clock)
    metrics = Metrics()

    # The parts the features share.
    verifier = parts.verifier or build_verifier(settings, parts.clock)
    introspection = parts.introspection or build_introspection(settings, parts.clock)
    org_directory = parts.org_directory or build_org_directory(settings)
    audit_store = parts.audit_store or build_audit_store(settings)
    own_recorder = None  # the platform's own: its shipper is built last, with delivery hooks
    if parts.audit_runtime is None and parts.audit_store is None:
        own_recorder = build_recorder(settings)
    recorder = parts.audit_recorder or (
        parts.audit_runtime.recorder if parts.audit_runtime else own_recorder
    )
    role_audit = parts.role_audit or RecorderRoleAudit(lambda: recorder or current_recorder())
    org_service = OrgService(org_directory, audit=role_audit)
    registry = seals.build_seal_registry(
        settings, recorder, now, parts.seal_audit, seals.DirectoryOrgTree(org_directory)
    )
    # Built early: without a registry it loads the seal_verify trust files, a bad one stops
    # the start-up with one line naming the setting, before the other stores are opened.
    seal_feature = seals.feature(settings, registry, clock=now, trust=parts.seal_trust)
    integrity = parts.audit_integrity or audit_integrity.build_audit_integrity(
        settings, parts.clock
    )
    alerts = parts.siem_alerts or build_siem_alerts(
        settings, recorder=recorder, registry=registry, clock=now
    )
    access_log = parts.access_log or (
        AccessLog(writer_process=True) if settings.server.access_log else None
    )

    auth = AuthMiddleware(
        verifier,
        introspection=introspection,
        scopes=functools.partial(resolve_scope, org_directory),
    )
    runtime = parts.audit_runtime
    if own_recorder is not None:  # every delivery hook is built above
        runtime = delivering_runtime(
            settings, own_recorder, audit_store, integrity=integrity, alerts=alerts, clock=now
        )
    context, edge = _edge(settings, metrics, runtime, access_log, auth)
    # Liveness answered before Falcon with the context's request id and metrics count; only
    # while the liveness resource is public (the edge answer checks no token).
    liveness = context.probe("/healthz", ALIVE.encode()) if not Health.auth_required else None
    app: AsgiApp = bodies.App(
        middleware=[context, *edge],
        body_timeout_seconds=settings.server.body_timeout_seconds,
        probes={} if liveness is None else {"/healthz": liveness},
    )
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)
    api = Api(app)

    http = httpx.AsyncClient(timeout=settings.keycloak.timeout_seconds)

    async def close() -> None:
        await http.aclose()
        verifier.close()
        if introspection is not None:
            introspection.close()
        audit_store.close()
        if isinstance(org_directory, KeycloakOrgDirectory):
            org_directory.admin.close()

    # The features, each built in full by its wiring module.
    features = [
        apps_feature(
            settings,
            parts.app_directory or build_app_directory(settings),
            org_directory,
            role_audit,
            parts.clock,
        ),
        orgs_feature(
            settings,
            org_service,
            build_invitations(
                org_service, lambda: recorder or current_recorder(), clock=parts.clock
            ),
            recorder,
        ),
        seal_feature,
        siem_alerts.feature(settings, alerts),
        audit_integrity.feature(settings, integrity, audit_store, recorder),
        compliance.feature(
            settings,
            realm=parts.compliance_realm,
            integrity=integrity,
            audit_store=audit_store,
            registry=registry,
            recorder=recorder,
            routes=lambda: [template for template, _ in api.routes],
        ),
        audit_integrity.search_feature(settings, audit_store, now),
        console.feature(settings, app, verifier, parts.clock),
        Feature("shared clients", lifespan=(OnShutdown(close),)),
    ]
    if runtime is not None:  # last: at shutdown it stops shipping before the store closes
        features.append(_audit(settings, runtime, metrics=metrics, org_directory=org_directory))
    readiness = Readiness(
        [
            Dependency(
                "keycloak",
                keycloak_probe(issuer_url(settings.keycloak.url, settings.keycloak.realm), http),
                required=settings.keycloak.required,
            ),
            Dependency(f"audit_store:{audit_store.kind}", blocking_probe(audit_store.ping)),
            *(dependency for feature in features for dependency in feature.readiness),
        ],
        metrics,
        timeout=settings.keycloak.timeout_seconds,
    )
    api.add_route("/healthz", Health())
    api.add_route("/readyz", Ready(readiness))
    api.add_route("/metrics", MetricsResource(metrics))
    api.add_route("/openapi.json", OpenApiDocument(api))
    api.add_route("/whoami", WhoAmI())
    for feature in features:
        feature.routes(api)
        for job in feature.lifespan:  # started in this order, stopped in reverse
            app.add_middleware(job)
    return app


def _utc(clock: Callable[[], float]) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock(), dt.UTC)


def _edge(
    settings: Settings,
    metrics: Metrics,
    runtime: AuditRuntime | None,
    access_log: AccessLog | None,
    auth: AuthMiddleware,
) -> tuple[RequestContextMiddleware, list[Any]]:
    """Request context (id, body limit, metrics, access log, request audit), then the rest:
    authentication, path parameters, the access log's own lifespan (its writer process)."""
    auditor = None
    if runtime is not None and settings.audit.record_requests:
        auditor = runtime.request_auditor(settings)
    context = RequestContextMiddleware(
        metrics,
        max_body_bytes=settings.server.max_body_bytes,
        access_log=access_log,
        request_auditor=auditor,
    )
    middleware: list[Any] = [auth, PathParameterCheck()]
    if access_log is not None:
        middleware.append(access_log)
    return context, middleware


def _audit(
    settings: Settings,
    runtime: AuditRuntime,
    *,
    metrics: Metrics,
    org_directory: OrgDirectory,
) -> Feature:
    """The audit runtime's lifespan (recorder, shipper), Keycloak's events pulled into it and,
    clustered, retention as the deployment's singleton job."""
    register_metrics(metrics, runtime)
    puller = identity_events.attach(settings, runtime.recorder, org_directory)
    retention = retention_job(settings, runtime.shipper.store)
    jobs = [job for job in (puller, retention) if job is not None]
    return Feature("audit", lifespan=(AuditLifespan(runtime), *jobs))
