"""create_app registers the streaming engine on the audit shipper, alerts behind it."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.audit import build_audit_runtime
from anbao.wiring.siem_alerts import build_siem_alerts
from audit.stores.sqlite import SqliteAuditStore
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from siem.alerts.model import AlertFilter
from siem.alerts.testing import MemoryAlertStore
from siem.testing import attack_scenarios, working_day
from tests.unit.clocks import LIVENESS_SECONDS, eventually


def settings_for(tmp: Path, **env: str) -> Settings:
    return Settings.load(
        {
            "ANBAO_ENVIRONMENT": "development",
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "keyring.json"),
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "alerts.sqlite3"),
            "ANBAO_SIEM_RESPONSES_ENABLED": "false",
            **env,
        }
    )


def test_audit_deliveries_become_alerts(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    runtime = build_audit_runtime(settings, store)
    alerts_store = MemoryAlertStore()
    siem_alerts = build_siem_alerts(
        settings,
        recorder=runtime.recorder,
        registry=None,
        clock=lambda: dt.datetime.now(dt.UTC),
        store=alerts_store,
    )
    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    create_app(
        settings,
        Parts(verifier=verifier, audit_store=store, audit_runtime=runtime, siem_alerts=siem_alerts),
    )
    try:
        brute = next(
            s
            for s in attack_scenarios(working_day(dt.datetime.now(dt.UTC)))
            if s.name == "brute force"
        )
        for event in brute.events:
            runtime.recorder.record_event(event)
        assert runtime.shipper.drain(timeout=LIVENESS_SECONDS)
        # the QueuedSink stores on its own thread
        assert eventually(lambda: bool(alerts_store.search(AlertFilter()).alerts))
        (alert,) = alerts_store.search(AlertFilter()).alerts
        assert alert.entity == (("user.name", "victim-bf"),)
        assert alert.event_count == 10
    finally:
        runtime.stop()
        siem_alerts.close()
        store.close()


def test_streaming_can_be_switched_off(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ANBAO_SIEM_STREAMING="false")
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    runtime = build_audit_runtime(settings, store)
    alerts_store = MemoryAlertStore()
    siem_alerts = build_siem_alerts(
        settings,
        recorder=None,
        registry=None,
        clock=lambda: dt.datetime.now(dt.UTC),
        store=alerts_store,
    )
    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    create_app(
        settings,
        Parts(verifier=verifier, audit_store=store, audit_runtime=runtime, siem_alerts=siem_alerts),
    )
    try:
        for event in next(
            s
            for s in attack_scenarios(working_day(dt.datetime.now(dt.UTC)))
            if s.name == "brute force"
        ).events:
            runtime.recorder.record_event(event)
        assert runtime.shipper.drain(timeout=LIVENESS_SECONDS)
        time.sleep(0.3)
        assert alerts_store.search(AlertFilter()).alerts == ()
    finally:
        runtime.stop()
        siem_alerts.close()
        store.close()
