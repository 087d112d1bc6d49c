"""The app's audit shipper hands delivered events to the streaming engine, alerts behind it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.siem_alerts import build_siem_alerts
from audit.recording.recorder import current
from audit.stores.sqlite import SqliteAuditStore
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from siem.alerts.model import AlertFilter
from siem.alerts.testing import MemoryAlertStore
from siem.testing import attack_scenarios, working_day
from tests.unit.anbao.lifespan import Lifespan
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


def _serve_brute_force(settings: Settings, tmp: Path, alerts_store: MemoryAlertStore) -> int:
    """The app as served (its own audit runtime, started by the lifespan) records a brute force;
    returns once the store holds every event."""
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
    app = create_app(settings, Parts(verifier=verifier, siem_alerts=siem_alerts))
    events = next(
        s for s in attack_scenarios(working_day(dt.datetime.now(dt.UTC))) if s.name == "brute force"
    ).events
    store = SqliteAuditStore(tmp / "audit.sqlite3")

    async def serve() -> None:
        worker = Lifespan(app)
        await worker.startup()
        try:
            for event in events:
                current().record_event(event)
            deadline = time.monotonic() + LIVENESS_SECONDS
            while store.count() < len(events):
                assert time.monotonic() < deadline, "the shipper never delivered"
                await asyncio.sleep(0.05)
        finally:
            await worker.shutdown()

    try:
        asyncio.run(serve())
    finally:
        store.close()
    return len(events)


def test_audit_deliveries_become_alerts(tmp_path: Path) -> None:
    alerts_store = MemoryAlertStore()
    _serve_brute_force(settings_for(tmp_path), tmp_path, alerts_store)
    # the QueuedSink stores on its own thread
    assert eventually(lambda: bool(alerts_store.search(AlertFilter()).alerts))
    (alert,) = alerts_store.search(AlertFilter()).alerts
    assert alert.entity == (("user.name", "victim-bf"),)
    assert alert.event_count == 10


def test_streaming_can_be_switched_off(tmp_path: Path) -> None:
    alerts_store = MemoryAlertStore()
    _serve_brute_force(settings_for(tmp_path, ANBAO_SIEM_STREAMING="false"), tmp_path, alerts_store)
    time.sleep(0.3)
    assert alerts_store.search(AlertFilter()).alerts == ()
