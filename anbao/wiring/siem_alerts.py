"""Wires alerts, notifications and response actions: settings, stores, Keycloak, seals, audit.

``siem`` reaches identity and seals only through its ports; this composition root adapts
Keycloak (:mod:`siem.responses.keycloak`), the seal registry (:class:`RegistrySealResponder`)
and the audit recorder (:class:`RecorderResponseAudit`, :func:`triage_audit`). The engines get
``SiemAlerts.alerts`` as their :class:`siem.ports.DetectionSink`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

from keycloak import KeycloakAdmin

from anbao.settings import AlertStoreKind, Settings
from anbao.web.health import Dependency, blocking_probe
from anbao.web.openapi import Api
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.elasticsearch import es_connection
from anbao.wiring.feature import Feature, OnShutdown
from anbao.wiring.keycloak import admins
from audit.model import EventKind, ResourceRef, UserInfo
from audit.recording.recorder import Recorder, current
from crypto.seals.registry.build import Registry
from crypto.seals.registry.errors import SealNotFound, SealRegistryError
from crypto.seals.registry.model import SEAL_ADMIN
from crypto.seals.registry.model import Actor as SealActor
from iam.tokens.falcon import Authorized, guard
from siem.alerts import resources
from siem.alerts.elasticsearch import ElasticsearchAlertStore
from siem.alerts.errors import ResponseTargetNotFound, ResponseTargetUnavailable
from siem.alerts.model import Alert, Caller
from siem.alerts.notify.delivery import NotificationHook, RetryPolicy
from siem.alerts.notify.smtp import SmtpNotifier
from siem.alerts.notify.webhook import WebhookNotifier
from siem.alerts.ports import AlertStore, Notifier
from siem.alerts.service import (
    AlertRecords,
    AlertService,
    BackgroundHooks,
    NewAlertHook,
    TriageHook,
)
from siem.alerts.sqlite import SqliteAlertStore
from siem.model import Severity
from siem.responses import resources as response_resources
from siem.responses.keycloak import KeycloakIdentityResponder
from siem.responses.model import ActionRecord
from siem.responses.ports import ActionStore, IdentityResponder
from siem.responses.service import ResponseService
from siem.responses.sql import SqlActionStore
from siem.responses.sqlite import SqliteActionStore

#: The registry actor response actions use (the human approver is in the audit event).
SEAL_RESPONDER = SealActor("siem-response", "system:siem", frozenset({SEAL_ADMIN}), "/")


@dataclasses.dataclass
class SiemAlerts:
    """What the app and the engines use; ``close`` on shutdown."""

    alerts: AlertService
    responses: ResponseService | None
    hooks: BackgroundHooks
    notifiers: tuple[Notifier, ...] = ()

    def close(self) -> None:
        self.hooks.close()
        self.alerts.store.close()
        if self.responses is not None:
            close_actions = getattr(self.responses.store, "close", None)
            if close_actions is not None:
                close_actions()
        for notifier in self.notifiers:
            close = getattr(notifier, "close", None)
            if close is not None:
                close()


def build_alert_store(settings: Settings) -> AlertStore:
    if settings.siem.alert_store is AlertStoreKind.ELASTICSEARCH:
        return ElasticsearchAlertStore(es_connection(settings), index=settings.siem.alert_index)
    return SqliteAlertStore(settings.siem.alert_sqlite_path)


def build_notifiers(settings: Settings) -> tuple[Notifier, ...]:
    sm = settings.siem
    out: list[Notifier] = []
    if sm.webhook_url:
        out.append(
            WebhookNotifier(
                sm.webhook_url,
                sm.webhook_secret.reveal().encode(),
                policy=RetryPolicy(max_attempts=sm.webhook_max_attempts),
                base_url=sm.public_url,
            )
        )
    if sm.smtp_host:
        out.append(
            SmtpNotifier(
                sm.smtp_host,
                sm.smtp_port,
                sm.smtp_from,
                [r.strip() for r in sm.smtp_to.split(",") if r.strip()],
                starttls=sm.smtp_starttls,
                username=sm.smtp_username,
                password=sm.smtp_password.reveal(),
                ca_file=sm.smtp_ca_file,
                base_url=sm.public_url,
            )
        )
    return tuple(out)


class RecorderResponseAudit:
    """``ResponseAudit`` on the audit recorder; returns once the event is durable."""

    def __init__(self, recorder: Callable[[], Recorder]) -> None:
        self._recorder = recorder

    def record(self, step: str, action: ActionRecord, actor: str, outcome: str) -> None:
        recorder = self._recorder()
        recorder.record_event(
            recorder.event(
                f"siem.response.{step}",
                outcome,
                category=("iam",) if action.kind.value != "suspend_seal" else ("configuration",),
                type=("change",) if step == "executed" else ("info",),
                kind=EventKind.EVENT,
                reason=action.error or action.reason,
                user=UserInfo(name=actor),
                resource=ResourceRef("siem_action", action.id, action.kind.value),
                labels={
                    "alert_id": action.alert_id,
                    "rule_id": action.rule_id,
                    "target_field": action.target_field,
                    "target": action.target,
                    "requested_by": action.requested_by,
                    "state": action.state.value,
                },
            )
        )


def triage_audit(recorder: Callable[[], Recorder]) -> TriageHook:
    """Triage changes (status, assignee, tags, notes) recorded as audit events."""

    def hook(action: str, alert: Alert, actor: str) -> None:
        r = recorder()
        r.record_event(
            r.event(
                f"siem.alert.{action}",
                "success",
                category=("configuration",),
                type=("change",),
                user=UserInfo(name=actor),
                resource=ResourceRef("siem_alert", alert.id, alert.rule_id),
                labels={"status": alert.status.value, "assignee": alert.assignee},
            )
        )

    return hook


class RegistrySealResponder:
    """``SealResponder`` on the seal registry's own service (state rules and audit included)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def suspend_seal(self, seal_id: str) -> None:
        try:
            self._registry.service.suspend(SEAL_RESPONDER, seal_id)
        except SealNotFound as exc:
            raise ResponseTargetNotFound("The seal registry has no such seal.") from exc
        except SealRegistryError as exc:
            raise ResponseTargetUnavailable(f"The seal registry refused: {exc.code}.") from exc


def _siem_caller(caller: Authorized) -> Caller:
    """The resources' caller: the name is the verified token's user (what four-eyes compares),
    the scope the caller's live binding in the directory, never a claim."""
    principal = caller.principal
    return Caller(
        principal.username or principal.subject, caller.scope.filter_path, principal.subject
    )


#: The alert and response resources' authorization (:func:`iam.tokens.falcon.guard`).
siem_guard = guard(_siem_caller)


def build_identity(settings: Settings) -> IdentityResponder:
    """Disable and log out through Anbao's admin client; missing credentials fail the response
    (in siem's own error), not start-up."""
    keycloak = admins(settings)

    def admin() -> KeycloakAdmin:
        if not keycloak.credentials.configured:
            raise ResponseTargetUnavailable(
                "Identity responses need Keycloak's admin client (keycloak.admin_client_secret)."
            )
        return keycloak.python_keycloak()

    return KeycloakIdentityResponder(admin)


def build_responses(
    settings: Settings,
    alerts: AlertRecords,
    audit_recorder: Callable[[], Recorder],
    *,
    registry: Registry | None,
    identity: IdentityResponder | None,
    clock: Callable[[], dt.datetime],
) -> ResponseService:
    """Response actions: Keycloak for identity, the seal registry when enabled, the audit trail.
    The actions are in the cluster database when clustered (requested on one node, approved on
    another), else in the alerts' SQLite file."""
    store: ActionStore = (
        SqlActionStore(cluster_engine(settings))
        if settings.cluster.clustered
        else SqliteActionStore(Path(settings.siem.alert_sqlite_path))
    )
    return ResponseService(
        store,
        identity=identity or build_identity(settings),
        seals=RegistrySealResponder(registry) if registry is not None else None,
        audit=RecorderResponseAudit(audit_recorder),
        clock=clock,
        new_id=lambda: uuid.uuid4().hex,
        alerts=alerts.get,
    )


def build_siem_alerts(
    settings: Settings,
    *,
    recorder: Recorder | None,
    registry: Registry | None,
    clock: Callable[[], dt.datetime],
    store: AlertStore | None = None,
    identity: IdentityResponder | None = None,
    notifiers: tuple[Notifier, ...] | None = None,
) -> SiemAlerts:
    """Alert service with notifications and (when enabled) response actions."""
    sm = settings.siem
    audit_recorder: Callable[[], Recorder] = (lambda: recorder) if recorder else current
    channels = build_notifiers(settings) if notifiers is None else notifiers
    alert_store = store or build_alert_store(settings)
    # The hooks write back to alerts and the service runs them: both stand on the store.
    records = AlertRecords(alert_store, clock=clock)
    new_hooks: list[NewAlertHook] = []
    responses = None
    if sm.responses_enabled:
        responses = build_responses(
            settings, records, audit_recorder, registry=registry, identity=identity, clock=clock
        )
        new_hooks.append(responses.plan)
    if channels:
        new_hooks.append(
            NotificationHook(
                channels,
                records.record_delivery,
                clock,
                min_severity=Severity(sm.notify_min_severity),
            )
        )
    hooks = BackgroundHooks(new_hooks)
    alerts = AlertService(
        alert_store,
        clock=clock,
        window=dt.timedelta(seconds=sm.suppression_window_seconds),
        on_new=hooks,
        on_change=triage_audit(audit_recorder),
    )
    return SiemAlerts(alerts, responses, hooks, channels)


def _add_routes(api: Api, settings: Settings, built: SiemAlerts) -> None:
    responses = built.responses
    resources.add_routes(
        api,
        built.alerts,
        siem_guard,
        base_url=settings.siem.public_url,
        actions_of=None if responses is None else response_resources.actions_of(responses),
    )
    if responses is not None:
        response_resources.add_routes(api, responses, built.alerts, siem_guard)


def feature(settings: Settings, built: SiemAlerts) -> Feature:
    """Routes, readiness of the alert store, shutdown."""
    store = built.alerts.store
    return Feature(
        "siem",
        routes=lambda api: _add_routes(api, settings, built),
        readiness=(Dependency(f"alert_store:{store.kind}", blocking_probe(store.ping)),),
        lifespan=(OnShutdown(built.close),),
    )
