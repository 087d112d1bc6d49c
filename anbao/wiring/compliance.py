"""Wires the compliance service (policies/) from settings: inspectors, store, signer, PDF fonts.

Used by ``create_app`` (routes, optional schedule run by one worker) and by ``anbao compliance``. Each inspector
reads the platform through a public API; a part that is not configured is simply not wired,
so its checks report "not applicable" with the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from anbao.settings import Environment, Settings
from anbao.wiring.feature import Feature, Lifespan
from anbao.wiring.keycloak import admins
from anbao.wiring.singleton import SingletonJob, job_lease
from audit.model import ResourceRef, UserInfo
from audit.recording.recorder import Recorder
from audit.sql.engine import create_engine
from policies.catalogue.load import load_catalogue
from policies.checks.platform import FixedSettings, PlatformAudit, PlatformSiem, SealRegistryCrypto
from policies.errors import StoreUnavailable
from policies.model import Assessee, Officer, Waiver
from policies.ports import AlertFacts, Inspectors, RealmFacts, RealmInspector, SettingsFacts
from policies.reports import pdf as report_pdf
from policies.reports.signing import SealReportSealer, Sm2ReportSigner
from policies.resources import Reports, add_routes
from policies.runs.service import ComplianceService
from policies.runs.store import SqlRunStore


def settings_facts(settings: Settings) -> SettingsFacts:
    return SettingsFacts(
        environment=settings.environment.value,
        tls_cert_configured=bool(settings.server.tls_cert_file),
        behind_tls_proxy=settings.server.behind_tls_proxy,
        keycloak_url=settings.keycloak.url,
    )


class LazyRealm:
    """Signs in to Keycloak's admin API at the first run, not when the app is built."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._inspector: RealmInspector | None = None

    def inspect(self) -> RealmFacts:
        if self._inspector is None:
            from policies.checks.keycloak import KeycloakRealmInspector  # noqa: PLC0415

            realm = self.settings.compliance.realm or self.settings.keycloak.realm
            admin = admins(self.settings, realm).python_keycloak()
            self._inspector = KeycloakRealmInspector(admin, realm)
        return self._inspector.inspect()


def _verify(settings: Settings, integrity: Any, store: Any) -> tuple[bool, str]:
    """``anbao audit verify`` over the last day; the summary names streams and events checked."""
    since = int((time.time() - 86400) * 1000)
    result = integrity.verify(store, time_from_ms=since)
    events = sum(s.checked_events for s in result.streams)
    return bool(result.ok), f"{len(result.streams)} stream(s), {events} event(s) in the last day"


def audit_inspector(
    settings: Settings,
    routes: Callable[[], Sequence[str]],
    *,
    integrity: Any | None = None,
    store: Any | None = None,
) -> PlatformAudit:
    ai = settings.audit_integrity
    verify = None
    if integrity is not None and store is not None:
        verify = functools.partial(_verify, settings, integrity, store)
    return PlatformAudit(
        routes=routes,
        record_requests=settings.audit.record_requests,
        skip_paths=tuple(p.strip() for p in settings.audit.skip_paths.split(",") if p.strip()),
        retention_days=settings.audit.retention_days,
        signing_key_file=ai.signing_key_file,
        field_keyring_file=ai.field_keyring_file,
        verify=verify,
        clock=lambda: dt.datetime.now(dt.UTC),
    )


def _alerts(settings: Settings) -> Sequence[AlertFacts]:
    """Alerts of the last 90 days; "triaged" = first left ``open`` (approximated by updated_at)."""
    from anbao.wiring.siem_alerts import build_alert_store  # noqa: PLC0415
    from siem.alerts.model import AlertFilter, AlertStatus  # noqa: PLC0415

    store = build_alert_store(settings)
    try:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
        page = store.search(AlertFilter(since=since, limit=1000))
    finally:
        store.close()
    return [
        AlertFacts(
            a.id,
            a.severity.value,
            a.created_at,
            None if a.status is AlertStatus.OPEN else a.updated_at,
        )
        for a in page.alerts
    ]


def siem_inspector(settings: Settings) -> PlatformSiem:
    def rules() -> Sequence[Any]:
        from siem.engines.loader import load_rules  # noqa: PLC0415

        return load_rules(strict=False).rules

    alerts = None
    if (
        settings.siem.alert_store.value == "elasticsearch"
        or Path(settings.siem.alert_sqlite_path).is_file()
    ):
        alerts = functools.partial(_alerts, settings)
    return PlatformSiem(rules, alerts, settings.siem.sla_minutes())


def _sealer(settings: Settings) -> SealReportSealer | None:
    cs = settings.compliance
    if not (cs.seal_file and cs.seal_key_file and cs.seal_cert_file):
        return None
    return SealReportSealer.from_files(
        Path(cs.seal_file),
        Path(cs.seal_key_file),
        Path(cs.seal_cert_file),
        cs.seal_key_password.reveal(),
    )


#: ECS ``event.type`` of each waiver step (decisions are changes).
_EVENT_TYPE = {"requested": "creation", "withdrawn": "deletion"}


class RecorderWaiverAudit:
    """``WaiverAudit`` on the audit recorder (as ``RecorderResponseAudit`` for SIEM actions):
    each step is an event under the officer who took it; returns once the event is durable."""

    def __init__(self, recorder: Callable[[], Recorder]) -> None:
        self._recorder = recorder

    def record(self, step: str, waiver: Waiver, officer: Officer) -> None:
        recorder = self._recorder()
        recorder.record_event(
            recorder.event(
                f"compliance.waiver.{step}",
                "success",
                category=("configuration",),
                type=(_EVENT_TYPE.get(step, "change"),),
                reason=waiver.reason,
                user=UserInfo(id=officer.subject, name=officer.name),
                resource=ResourceRef("compliance_waiver", waiver.id, waiver.control_id),
                labels={
                    "state": waiver.state.value,
                    "requested_by": waiver.requested_by,
                    "expires_at": waiver.expires_at.isoformat(),
                },
            )
        )


def build_service(
    settings: Settings,
    *,
    realm: RealmInspector | None = None,
    routes: Callable[[], Sequence[str]] = tuple,
    integrity: Any | None = None,
    audit_store: Any | None = None,
    registry: Any | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    recorder: Recorder | None = None,
) -> ComplianceService:
    """The service; with a ``recorder``, waiver steps go to the audit trail."""
    cs = settings.compliance
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    inspectors = Inspectors(
        realm=realm if realm is not None else LazyRealm(settings),
        audit=audit_inspector(settings, routes, integrity=integrity, store=audit_store),
        crypto=SealRegistryCrypto(registry, now) if registry is not None else None,
        siem=siem_inspector(settings),
        settings=FixedSettings(settings_facts(settings)),
    )
    signer = None
    if cs.signing_key_file:
        signer = Sm2ReportSigner.from_file(
            Path(cs.signing_key_file),
            cs.signing_key_password.reveal(),
            Path(cs.signing_cert_file) if cs.signing_cert_file else None,
        )
    return ComplianceService(
        load_catalogue(),
        inspectors,
        SqlRunStore(create_engine(cs.database_url, StoreUnavailable)),
        clock=now,
        new_id=lambda: uuid.uuid4().hex,
        signer=signer,
        sealer=_sealer(settings),
        params={"development": settings.environment is Environment.DEVELOPMENT},
        audit=RecorderWaiverAudit(lambda: recorder) if recorder is not None else None,
    )


def assessee(settings: Settings) -> Assessee:
    """The report cover's facts about the assessed system (``compliance.system_name`` …)."""
    cs = settings.compliance
    return Assessee(cs.system_name, cs.organisation, cs.mlps_level, cs.filing_number)


def pdf_renderer(settings: Settings) -> Callable[[dict[str, Any]], bytes]:
    return functools.partial(report_pdf.render, font_file=settings.compliance.pdf_font_file)


def scheduled_run(service: ComplianceService) -> Callable[[], object]:
    """One scheduled run of the catalogue (``compliance.schedule_hours``)."""
    return functools.partial(service.run, trigger="schedule", requested_by="scheduler")


def feature(
    settings: Settings,
    *,
    realm: RealmInspector | None,
    integrity: Any,
    audit_store: Any,
    registry: Any | None,
    recorder: Recorder | None = None,
    routes: Callable[[], Sequence[str]] = tuple,
) -> Feature:
    """``/compliance/*`` (when ``compliance.enabled``); with ``compliance.schedule_hours`` > 0, scheduled runs as a singleton
    job: started with the ASGI lifespan, run by one worker of the deployment."""
    if not settings.compliance.enabled:
        return Feature("compliance")
    service = build_service(
        settings,
        realm=realm,
        routes=routes,
        integrity=integrity,
        audit_store=audit_store,
        registry=registry,
        recorder=recorder,
    )
    reports = Reports(service, pdf_renderer(settings), assessee(settings))
    jobs: tuple[Lifespan, ...] = ()
    if settings.compliance.schedule_hours > 0:
        jobs = (
            SingletonJob(
                "compliance-schedule",
                scheduled_run(service),
                job_lease(settings, "compliance-schedule"),
                settings.compliance.schedule_hours * 3600,
            ),
        )
    return Feature("compliance", routes=lambda api: add_routes(api, reports), lifespan=jobs)
