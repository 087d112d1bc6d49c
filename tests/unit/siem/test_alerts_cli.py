"""``anbao siem alerts …`` / ``anbao siem actions …`` on the embedded store (audited via the spool)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from anbao.audit_wiring import spool_config
from anbao.cli.siem_alerts import actions, alerts
from anbao.settings import Settings
from audit.spool import Spool
from siem.alerts import AlertService
from siem.alerts_sqlite import SqliteAlertStore
from siem.model import ResponseAction, ResponseKind
from siem.responses import ResponseService
from siem.responses_sqlite import SqliteActionStore
from siem.responses_testing import FakeIdentity, ListAudit
from tests.unit.siem.support import Clock, detection


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp_path / "siem.sqlite3"),
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": "",
    }


def seed(env: dict[str, str]) -> tuple[str, str]:
    path = env["ANBAO_SIEM_ALERT_SQLITE_PATH"]
    store = SqliteAlertStore(path)
    svc = AlertService(store, clock=Clock(), window=dt.timedelta(minutes=10))
    d = detection(responses=(ResponseAction(ResponseKind.DISABLE_USER),))
    alert = svc.ingest(d)
    assert alert is not None
    responses = ResponseService(
        SqliteActionStore(path),
        identity=FakeIdentity(),
        seals=None,
        audit=ListAudit(),
        clock=Clock(),
        new_id=lambda: "act-1",
        alerts=svc.get,
    )
    (action,) = responses.plan(alert, d)
    store.close()
    return alert.id, action.id


def audited(env: dict[str, str]) -> list[str]:
    spool = Spool(spool_config(Settings.load(env)))
    try:
        return [json.loads(r.document)["event"]["action"] for r in spool.peek(1000)]
    finally:
        spool.close()


def test_triage_from_the_command_line(env: dict[str, str]) -> None:
    alert_id, _ = seed(env)
    run = CliRunner(env=env).invoke
    listed = run(alerts, ["list", "--status", "open"])
    assert listed.exit_code == 0, listed.output
    assert alert_id in listed.output
    assert "1 of 1 alert(s)" in listed.output
    assert run(alerts, ["ack", alert_id, "--as", "ana"]).exit_code == 0
    assert run(alerts, ["assign", alert_id, "ana", "--as", "ana"]).exit_code == 0
    assert run(alerts, ["note", alert_id, "called the user", "--as", "ana"]).exit_code == 0
    closed = run(alerts, ["close", alert_id, "--reason", "true_positive", "--as", "ana"])
    assert closed.exit_code == 0, closed.output
    shown = json.loads(run(alerts, ["show", alert_id]).output)
    assert (shown["status"], shown["assignee"], shown["close_reason"]) == (
        "closed",
        "ana",
        "true_positive",
    )
    assert shown["notes"][0]["author"] == "ana"
    assert shown["links"]["audit_query"].startswith("event.id:")
    again = run(alerts, ["ack", alert_id, "--as", "ana"])
    assert again.exit_code == 1
    assert "invalid_alert_transition" in again.output
    assert run(alerts, ["list", "--severity", "bogus"]).exit_code == 1
    assert audited(env) == ["siem.alert.update"] * 2 + ["siem.alert.note", "siem.alert.update"]


def test_actions_four_eyes_from_the_command_line(env: dict[str, str]) -> None:
    _, action_id = seed(env)
    run = CliRunner(env=env).invoke
    listed = run(actions, ["list", "--state", "pending"])
    assert action_id in listed.output
    rejected = run(actions, ["reject", action_id, "--reason", "test account", "--as", "bo"])
    assert rejected.exit_code == 0, rejected.output
    assert "rejected" in rejected.output
    assert run(actions, ["approve", action_id, "--as", "cy"]).exit_code == 1
    assert audited(env) == ["siem.response.rejected"]
