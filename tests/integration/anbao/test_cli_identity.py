"""Issue 16 §2.4 on the real stack: the CLI acts only as the person of a real Keycloak token.

The API refuses an analyst's approval of their own request (four eyes); the CLI used to accept
it under any ``--as`` name. Now the CLI verifies the token as the API does (real JWKS, issuer,
audience, roles, live org binding) and records the token's user.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from click.testing import CliRunner

from anbao.app import Parts, build_audit_store, build_org_directory, create_app
from anbao.audit_wiring import spool_config
from anbao.cli import main
from anbao.settings import Settings
from audit.recorder import Recorder
from audit.spool import Spool
from crypto import keys
from crypto.sm2 import PrivateKey
from iam.orgs_model import NodeKind, OrgNode, Person
from siem.alerts import AlertService
from siem.alerts_sqlite import SqliteAlertStore
from siem.model import Detection, Engine, Severity
from tests.integration.anbao.stack import stack_env
from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm


@dataclasses.dataclass
class World:
    realm: Realm
    env: dict[str, str]
    client: falcon.testing.TestClient
    county: OrgNode
    people: dict[str, Person]
    tokens: dict[str, str]

    def api(self, who: str, method: str, path: str, **kw: object) -> falcon.testing.Result:
        headers = {"Authorization": "Bearer " + self.tokens[who]}
        return self.client.simulate_request(method, path, headers=headers, **kw)  # type: ignore[arg-type]

    def cli(self, *args: str, token: str | None = None) -> object:
        env = dict(self.env)
        if token is not None:
            env["ANBAO_TOKEN"] = token
        return CliRunner().invoke(main, list(args), env=env)

    def alert(self) -> str:
        """A fresh alert in the county on the victim, in the store the API and CLI share."""
        victim = self.realm.person([self.county])
        store = SqliteAlertStore(self.env["ANBAO_SIEM_ALERT_SQLITE_PATH"])
        now = dt.datetime.now(dt.UTC)
        detection = Detection(
            rule_id="r-brute",
            rule_title="Brute force",
            severity=Severity.HIGH,
            entity=(("user.name", victim.username),),
            event_ids=(f"ev-{victim.id}",),
            first_event_time=now,
            last_event_time=now,
            count=1,
            engine=Engine.STREAMING,
            org_path=self.county.path,
        )
        alert = AlertService(store, clock=lambda: now, window=dt.timedelta(0)).ingest(detection)
        store.close()
        assert alert is not None
        return alert.id


@pytest.fixture(scope="module")
def world(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    env = keycloak.env
    realm = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    try:
        province = realm.node(None, NodeKind.PROVINCE, "530000", "云南省")
        prefecture = realm.node(province, NodeKind.PREFECTURE, "530100", "昆明市")
        county = realm.node(prefecture, NodeKind.COUNTY, "530102", "五华区")
        people = {
            who: realm.person([prefecture], "security-analyst", admin_node=county)
            for who in ("ana", "bo")
        }
        people["outsider"] = realm.person(
            [prefecture],
            "security-analyst",
            admin_node=realm.node(prefecture, NodeKind.COUNTY, "530103", "盘龙区"),
        )
        people["auditor"] = realm.person([prefecture], "auditor", admin_node=county)
        people["officer"] = realm.person([province], "compliance-officer", admin_node=province)
        people["officer2"] = realm.person([province], "compliance-officer", admin_node=province)
        people["county_officer"] = realm.person(
            [prefecture], "compliance-officer", admin_node=county
        )
        tokens = {who: realm.token(p.username) for who, p in people.items()}
        tmp = Path(tmp_path_factory.mktemp("cli-identity"))
        key = tmp / "officer.pem"
        key.write_bytes(keys.dump_private_key(PrivateKey.generate()))
        cli_env = stack_env(keycloak, realm, tmp) | {
            "ANBAO_COMPLIANCE_SIGNING_KEY_FILE": str(key),
            "USER": "ana",  # the OS login proves nothing
        }
        settings = Settings.load(cli_env)
        directory = build_org_directory(settings)
        spool = Spool(spool_config(settings))
        recorder = Recorder(spool)
        audit_store = build_audit_store(settings)  # the platform's trail, which `run` assesses
        parts = Parts(org_directory=directory, audit_store=audit_store, audit_recorder=recorder)
        client = falcon.testing.TestClient(create_app(settings, parts))
        try:
            yield World(realm, cli_env, client, county, people, tokens)
        finally:
            recorder.close()
            spool.close()
            audit_store.close()
            directory.admin.close()
    finally:
        delete_realm(realm)


def _request(w: World, who: str, alert_id: str) -> str:
    body = {"alert_id": alert_id, "kind": "disable_user"}
    requested = w.api(who, "POST", "/siem/actions", json=body)
    assert requested.status_code == 201, requested.text
    return str(requested.json["id"])


def test_self_approval_is_refused_from_the_cli_as_from_the_api(world: World) -> None:
    w = world
    action = _request(w, "ana", w.alert())
    refused = w.api("ana", "POST", f"/siem/actions/{action}/approve")
    assert refused.status_code == 403
    assert refused.json["type"].endswith("response_self_approval")
    mine = w.cli("siem", "actions", "approve", action, token=w.tokens["ana"])
    assert mine.exit_code == 1, mine.output  # type: ignore[attr-defined]
    assert "response_self_approval" in mine.output  # type: ignore[attr-defined]
    typed = w.cli("siem", "actions", "approve", action, "--as", "someone-else")
    assert typed.exit_code == 2  # type: ignore[attr-defined]
    other = w.cli("siem", "actions", "approve", action, token=w.tokens["bo"])
    assert other.exit_code == 0, other.output  # type: ignore[attr-defined]
    assert f"decided by {w.people['bo'].username}" in other.output  # type: ignore[attr-defined]


def test_notes_are_recorded_under_the_tokens_user(world: World) -> None:
    w = world
    alert_id = w.alert()
    noted = w.cli("siem", "alerts", "note", alert_id, "called the user", token=w.tokens["bo"])
    assert noted.exit_code == 0, noted.output  # type: ignore[attr-defined]
    shown = w.api("ana", "GET", f"/siem/alerts/{alert_id}").json
    assert [n["author"] for n in shown["notes"]] == [w.people["bo"].username]
    spool = Spool(spool_config(Settings.load(w.env)))
    try:
        events = [json.loads(r.document) for r in spool.peek(1000)]
    finally:
        spool.close()
    notes = [e for e in events if e["event"]["action"] == "siem.alert.note"]
    assert notes[-1]["user"]["name"] == w.people["bo"].username


def test_no_token_a_foreign_scope_or_a_wrong_role_is_refused(world: World) -> None:
    w = world
    alert_id = w.alert()
    assert w.cli("siem", "alerts", "note", alert_id, "x").exit_code == 2  # type: ignore[attr-defined]
    for who in ("outsider", "auditor"):
        refused = w.cli("siem", "alerts", "note", alert_id, "x", token=w.tokens[who])
        assert refused.exit_code == 1, (who, refused.output)  # type: ignore[attr-defined]
    tampered = w.tokens["ana"][:-4] + ("AAAA" if not w.tokens["ana"].endswith("AAAA") else "BBBB")
    refused = w.cli("siem", "alerts", "note", alert_id, "x", token=tampered)
    assert refused.exit_code == 1  # type: ignore[attr-defined]
    assert "unauthenticated" in refused.output  # type: ignore[attr-defined]


def test_compliance_signoff_is_by_the_tokens_officer(world: World, tmp_path: Path) -> None:
    w = world
    ran = w.cli("compliance", "run", "--json", token=w.tokens["officer"])
    assert ran.exit_code in {0, 1}, ran.output  # type: ignore[attr-defined]
    run = json.loads(ran.output)  # type: ignore[attr-defined]
    assert run["requested_by"] == w.people["officer"].username
    files = ["-o", str(tmp_path / "r.pdf"), "--sig", str(tmp_path / "r.sig")]
    files += ["--pub", str(tmp_path / "r.pub")]
    typed = w.cli("compliance", "signoff", "latest", "--officer", "wang.li", *files)
    assert typed.exit_code == 2  # type: ignore[attr-defined]
    for who in ("ana", "county_officer"):  # wrong role; a binding short of the whole tree
        refused = w.cli("compliance", "signoff", "latest", *files, token=w.tokens[who])
        assert refused.exit_code == 1, (who, refused.output)  # type: ignore[attr-defined]
    signed = w.cli("compliance", "signoff", "latest", *files, token=w.tokens["officer"])
    assert signed.exit_code == 0, signed.output  # type: ignore[attr-defined]
    report = w.api("officer", "GET", f"/compliance/runs/{run['id']}")
    assert report.status_code == 200, report.text
    assert report.json["signoff"]["officer"] == w.people["officer"].username


def _waive(w: World, who: str, *args: str) -> Any:
    return w.cli("compliance", "waive", *args, token=w.tokens[who])


def test_compliance_waivers_take_two_officers_each_by_their_token(world: World) -> None:
    """Issue 16 §2.4: a waiver's requester and approver are users of verified tokens, and
    differ; ``--approver NAME`` is gone from the CLI as ``approver`` is from the API."""
    w = world
    assert w.api("officer", "GET", "/compliance/waivers").status_code == 200  # the store exists
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    request = ["L3-CES1-02", "--justification", "gateway lockout", "--expires", expires]
    typed = w.cli("compliance", "waive", *request, "--approver", "zhao")
    assert typed.exit_code == 2, typed.output  # type: ignore[attr-defined]
    asked = _waive(w, "officer", *request)
    assert asked.exit_code == 0, asked.output
    waiver_id = asked.output.strip()
    mine = _waive(w, "officer", "--approve", waiver_id)
    assert mine.exit_code == 2, mine.output
    assert "compliance_waiver_self_approval" in mine.output
    refused = w.api("officer", "POST", f"/compliance/waivers/{waiver_id}/approve")
    assert refused.status_code == 403
    assert refused.json["type"].endswith("compliance_waiver_self_approval")
    for who in ("county_officer", "ana"):  # a binding short of the whole tree; a wrong role
        assert _waive(w, who, "--approve", waiver_id).exit_code == 1
    assert w.cli("compliance", "waive", "--approve", waiver_id).exit_code == 2  # type: ignore[attr-defined]  # no token
    approved = _waive(w, "officer2", "--approve", waiver_id)
    assert approved.exit_code == 0, approved.output
    assert f"decided_by={w.people['officer2'].username}" in approved.output
    shown = w.api("officer", "GET", f"/compliance/waivers/{waiver_id}").json
    assert (shown["state"], shown["requested_by"], shown["decided_by"]) == (
        "approved",
        w.people["officer"].username,
        w.people["officer2"].username,
    )
    assert (shown["requested_by_id"], shown["decided_by_id"]) == (
        w.people["officer"].id,
        w.people["officer2"].id,
    )
    spool = Spool(spool_config(Settings.load(w.env)))
    try:
        events = [json.loads(r.document) for r in spool.peek(1000)]
    finally:
        spool.close()
    steps = [(e["event"]["action"], e["user"]["name"], e["user"]["id"]) for e in events
             if e.get("resource", {}).get("id") == waiver_id]  # fmt: skip
    assert steps == [
        ("compliance.waiver.requested", w.people["officer"].username, w.people["officer"].id),
        ("compliance.waiver.approved", w.people["officer2"].username, w.people["officer2"].id),
    ]


def test_a_waiver_request_is_rejected_with_a_reason_by_another_officer(world: World) -> None:
    w = world
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    made = w.api("officer2", "POST", "/compliance/waivers",
                 json={"control_id": "L3-CES1-04", "justification": "otp rollout",
                       "expires_at": expires})  # fmt: skip
    assert made.status_code == 201, made.text
    waiver_id = made.json["id"]
    assert _waive(w, "officer", "--reject", waiver_id).exit_code == 2  # no reason
    rejected = _waive(w, "officer", "--reject", waiver_id, "--reason", "enrol OTP instead")
    assert rejected.exit_code == 0, rejected.output
    assert f"{waiver_id} L3-CES1-04 rejected" in rejected.output
    shown = w.api("officer2", "GET", f"/compliance/waivers/{waiver_id}").json
    assert (shown["decided_by"], shown["reason"]) == (w.people["officer"].username,
                                                      "enrol OTP instead")  # fmt: skip
