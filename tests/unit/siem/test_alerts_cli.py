"""``anbao siem alerts …`` / ``anbao siem actions …`` on the embedded store (audited via the spool)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from anbao.audit_wiring import spool_config
from anbao.cli import identity
from anbao.cli.siem_alerts import actions, alerts
from anbao.settings import Settings
from audit.spool import Spool
from iam.orgs_testing import InMemoryOrgDirectory
from iam.scope import resolve_scope
from iam.testing import LocalIssuer
from iam.tokens import TokenVerifier
from siem.alerts import AlertService
from siem.alerts_sqlite import SqliteAlertStore
from siem.model import ResponseAction, ResponseKind
from siem.responses import ResponseService
from siem.responses_sqlite import SqliteActionStore
from siem.responses_testing import FakeIdentity, ListAudit
from tests.unit.siem.support import Clock, detection

ISSUER = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
#: The live directory the CLI's identity check reads (the real one is Keycloak: integration).
DIRECTORY = InMemoryOrgDirectory()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    verifier = TokenVerifier(
        issuer=ISSUER.issuer, audience="anbao-api", jwks=ISSUER, clock=time.time
    )
    monkeypatch.setattr(identity, "verifier", lambda settings: verifier)
    monkeypatch.setattr(identity, "scope_of", lambda s, sub: resolve_scope(DIRECTORY, sub))
    monkeypatch.setattr(identity, "introspection", lambda settings: ISSUER.introspection())
    return {
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp_path / "siem.sqlite3"),
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": "",
    }


def token(user: str, *roles: str, bound: str = "/") -> str:
    """A verified token of ``user``, bound to ``bound`` in the live directory."""
    DIRECTORY.bind(f"sub-{user}", bound, *roles)
    return ISSUER.token(
        time.time(), sub=f"sub-{user}", preferred_username=user, realm_access={"roles": list(roles)}
    )


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
    ana = ["--token", token("ana", "security-analyst")]
    assert run(alerts, ["ack", alert_id, *ana]).exit_code == 0
    assert run(alerts, ["assign", alert_id, "ana", *ana]).exit_code == 0
    assert run(alerts, ["note", alert_id, "called the user", *ana]).exit_code == 0
    closed = run(alerts, ["close", alert_id, "--reason", "true_positive", *ana])
    assert closed.exit_code == 0, closed.output
    shown = json.loads(run(alerts, ["show", alert_id]).output)
    assert (shown["status"], shown["assignee"], shown["close_reason"]) == (
        "closed",
        "ana",
        "true_positive",
    )
    assert shown["notes"][0]["author"] == "ana"
    assert shown["links"]["audit_query"].startswith("event.id:")
    again = run(alerts, ["ack", alert_id, *ana])
    assert again.exit_code == 1
    assert "invalid_alert_transition" in again.output
    assert run(alerts, ["list", "--severity", "bogus"]).exit_code == 1
    assert audited(env) == ["siem.alert.update"] * 2 + ["siem.alert.note", "siem.alert.update"]


def test_actions_four_eyes_from_the_command_line(env: dict[str, str]) -> None:
    _, action_id = seed(env)
    run = CliRunner(env=env).invoke
    listed = run(actions, ["list", "--state", "pending"])
    assert action_id in listed.output
    bo = token("bo", "security-analyst")
    rejected = run(actions, ["reject", action_id, "--reason", "test account", "--token", bo])
    assert rejected.exit_code == 0, rejected.output
    assert "rejected" in rejected.output
    assert "decided by bo" in rejected.output
    assert (
        run(actions, ["approve", action_id, "--token", token("cy", "platform-admin")]).exit_code
        == 1
    )
    assert audited(env) == ["siem.response.rejected"]


def test_acts_need_a_verified_token_never_a_typed_name(env: dict[str, str]) -> None:
    """Issue 16 §2.4: no --as, no OS login; a forged, foreign or role-less token is refused."""
    alert_id, action_id = seed(env)
    run = CliRunner(env=env).invoke
    assert run(alerts, ["note", alert_id, "x", "--as", "anyone"]).exit_code == 2  # no such option
    missing = run(alerts, ["note", alert_id, "x"], env={**env, "USER": "ana", "LOGNAME": "ana"})
    assert missing.exit_code == 2
    assert "--token" in missing.output
    forged = LocalIssuer(issuer=ISSUER.issuer).token(
        0, sub="sub-ana", preferred_username="ana", realm_access={"roles": ["security-analyst"]}
    )
    refused = run(alerts, ["note", alert_id, "x", "--token", forged])
    assert refused.exit_code == 1
    assert "unauthenticated" in refused.output
    no_role = run(alerts, ["note", alert_id, "x", "--token", token("dee", "auditor")])
    assert no_role.exit_code == 1
    assert "forbidden" in no_role.output
    elsewhere = token("eve", "security-analyst", bound="/gov/health")
    assert run(actions, ["approve", action_id, "--token", elsewhere]).exit_code == 1
    assert run(alerts, ["note", alert_id, "x", "--token", elsewhere]).exit_code == 1
    via_env = run(
        alerts,
        ["note", alert_id, "by env"],
        env={**env, "ANBAO_TOKEN": token("fay", "security-analyst")},
    )
    assert via_env.exit_code == 0, via_env.output
    assert audited(env) == ["siem.alert.note"]


def test_an_ended_session_acts_no_more(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 §2.3 at the terminal: a logged-out or disabled person's unexpired token is
    refused (the issuer is asked, as on the API's high-risk routes); nobody to ask: refused."""
    alert_id, action_id = seed(env)
    run = CliRunner(env=env).invoke
    ended = token("gus", "security-analyst")
    ISSUER.revoked.add(ended)
    refused = run(alerts, ["note", alert_id, "x", "--token", ended])
    assert refused.exit_code == 1
    assert "no longer active" in refused.output
    assert run(actions, ["approve", action_id, "--token", ended]).exit_code == 1
    monkeypatch.setattr(identity, "introspection", lambda settings: None)
    unasked = run(alerts, ["note", alert_id, "x", "--token", token("hal", "security-analyst")])
    assert unasked.exit_code == 1
    assert "introspection" in unasked.output
    assert audited(env) == []
