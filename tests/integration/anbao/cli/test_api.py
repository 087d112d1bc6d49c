"""Issue 17 §4 on the real stack: acting CLI commands go through Anbao's API as the person.

A real ``anbao serve`` on a throwaway realm of the real Keycloak; the ``anbao`` CLI runs as a
subprocess with nothing but the API's address, the person's token and an empty data directory:
no store, no key, no Keycloak admin credential. A command that still acted in-process would
find no store and fail; every act must reach the server, which checks the token, the roles,
the live org scope, the session and four eyes, and records the act under the person (found
again in the server's audit trail, searched through the CLI by a platform-wide auditor).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crypto import keys
from crypto.keystore import KekRing
from crypto.pki.testing import TEST_USCC
from crypto.seals.format.testing import tiny_png
from crypto.sm2 import PrivateKey
from iam.orgs.model import NodeKind, OrgNode, Person
from siem.alerts.service import AlertService
from siem.alerts.sqlite import SqliteAlertStore
from siem.model import Detection, Engine, Severity
from tests.integration.anbao.serving import serve
from tests.integration.anbao.stack import stack_env
from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import CLIENT_ID, PASSWORD, Realm, create_realm, delete_realm

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class World:
    realm: Realm
    base: str
    state: Path
    nobody: Path  # the CLI's data and config directories: empty, so nothing is local
    nodes: dict[str, OrgNode]
    people: dict[str, Person]

    def token(self, who: str) -> str:
        return self.realm.token(self.people[who].username)

    def api(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": "Bearer " + self.token(who)}
        return httpx.request(method, self.base + path, headers=headers, timeout=60, **kw)

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        """``anbao ARGS`` as its own process, knowing only the API and the person's token."""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.nobody),
            "ANBAO_DATA_DIR": str(self.nobody / "data"),
            "ANBAO_CONFIG_DIR": str(self.nobody / "config"),
            "ANBAO_API_URL": self.base,
            "USER": "ana",  # the OS login proves nothing
        }
        if token is not None:
            env["ANBAO_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "anbao", *args],
            env=env,
            cwd=self.nobody,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def alert(self) -> str:
        """A fresh alert in the county on a victim (set-up: the server's alert store)."""
        victim = self.realm.person([self.nodes["county"]])
        store = SqliteAlertStore(str(self.state / "alerts.sqlite3"))
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
            org_path=self.nodes["county"].path,
        )
        alert = AlertService(store, clock=lambda: now, window=dt.timedelta(0)).ingest(detection)
        store.close()
        assert alert is not None
        return alert.id

    def trail(self, query: str, count: int = 1) -> list[dict[str, Any]]:
        """The server's audit trail, searched through the CLI by a platform-wide auditor
        (events reach the store through the server's spool shipper: wait for ``count``)."""
        events: list[dict[str, Any]] = []
        for _ in range(60):
            found = self.cli("audit", "search", query, "--format", "ndjson",
                             token=self.token("trail_reader"))  # fmt: skip
            assert found.returncode == 0, found.stderr
            events = [json.loads(line) for line in found.stdout.splitlines()]
            if len(events) >= count:
                return events
            time.sleep(1)
        pytest.fail(f"{len(events)} of {count} event(s) in the server's trail for {query}")


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
        other = realm.node(prefecture, NodeKind.COUNTY, "530103", "盘龙区")
        dept = realm.node(county, NodeKind.DEPARTMENT, TEST_USCC, "昆明市五华区财政局")
        nodes = {"province": province, "county": county, "other": other, "dept": dept}
        people = {
            who: realm.person([prefecture], "security-analyst", admin_node=county)
            for who in ("ana", "bo")
        }
        people["outsider"] = realm.person([prefecture], "security-analyst", admin_node=other)
        people["auditor"] = realm.person([prefecture], "auditor", admin_node=county)
        # Platform-wide (the scope `/`): reads the events that carry no org, such as waivers'.
        people["trail_reader"] = realm.person(
            [province], "auditor", "platform-admin", admin_node=province
        )
        people["officer"] = realm.person([province], "compliance-officer", admin_node=province)
        people["officer2"] = realm.person([province], "compliance-officer", admin_node=province)
        people["county_officer"] = realm.person(
            [prefecture], "compliance-officer", admin_node=county
        )
        people["org_admin"] = realm.person([county], "org-admin", admin_node=county)
        people["other_admin"] = realm.person([other], "org-admin", admin_node=other)
        people["holder"] = realm.person([dept], "seal-user")
        state = Path(tmp_path_factory.mktemp("cli-api"))
        nobody = Path(tmp_path_factory.mktemp("cli-nobody"))
        key = state / "officer.pem"
        key.write_bytes(keys.dump_private_key(PrivateKey.generate()))
        server_env = stack_env(keycloak, realm, state) | {
            "ANBAO_DATA_DIR": str(state),
            "ANBAO_COMPLIANCE_SIGNING_KEY_FILE": str(key),
            "ANBAO_KEYCLOAK_INTROSPECTION_TTL_SECONDS": "0",
            "ANBAO_SEALS_ENABLED": "true",
            "ANBAO_SEALS_DATABASE_URL": f"sqlite:///{state / 'seals.sqlite3'}",
            "ANBAO_SEALS_KEK": KekRing.generate_entry("cli"),
        }
        with serve(state, server_env) as (base, _log):
            yield World(realm, base, state, nobody, nodes, people)
        assert not (nobody / "data").exists()  # the CLI made no store of its own
    finally:
        delete_realm(realm)


def _request(w: World, who: str, alert_id: str) -> str:
    body = {"alert_id": alert_id, "kind": "disable_user"}
    requested = w.api(who, "POST", "/siem/actions", json=body)
    assert requested.status_code == 201, requested.text
    return str(requested.json()["id"])


def test_four_eyes_is_the_servers_by_subject_at_the_cli(world: World) -> None:
    w = world
    action = _request(w, "ana", w.alert())
    mine = w.cli("siem", "actions", "approve", action, token=w.token("ana"))
    assert mine.returncode == 1, mine.stderr
    assert "response_self_approval" in mine.stderr
    typed = w.cli("siem", "actions", "approve", action, "--as", "someone-else")
    assert typed.returncode == 2, typed.stderr
    other = w.cli("siem", "actions", "approve", action, token=w.token("bo"))
    assert other.returncode == 0, other.stderr
    assert f"decided by {w.people['bo'].username}" in other.stdout
    (approved,) = w.trail(f'event.action:siem.response.approved AND resource.id:"{action}"')
    assert approved["user"]["name"] == w.people["bo"].username


def test_triage_is_recorded_under_the_person_by_the_server(world: World) -> None:
    w = world
    alert_id = w.alert()
    bo = w.token("bo")
    listed = w.cli("siem", "alerts", "list", "--status", "open", token=bo)
    assert listed.returncode == 0, listed.stderr
    assert alert_id in listed.stdout
    noted = w.cli("siem", "alerts", "note", alert_id, "called the user", token=bo)
    assert noted.returncode == 0, noted.stderr
    acked = w.cli("siem", "alerts", "ack", alert_id, token=bo)
    assert acked.returncode == 0, acked.stderr
    assert "acknowledged" in acked.stdout
    again = w.cli("siem", "alerts", "ack", alert_id, token=bo)
    assert again.returncode == 1
    assert "invalid_alert_transition" in again.stderr
    shown = json.loads(w.cli("siem", "alerts", "show", alert_id, token=bo).stdout)
    assert [n["author"] for n in shown["notes"]] == [w.people["bo"].username]
    (note,) = w.trail(f'event.action:siem.alert.note AND resource.id:"{alert_id}"')
    assert note["user"]["name"] == w.people["bo"].username


def test_no_token_a_foreign_scope_a_wrong_role_or_a_forgery_is_refused(world: World) -> None:
    w = world
    alert_id = w.alert()
    missing = w.cli("siem", "alerts", "note", alert_id, "x")
    assert missing.returncode == 2, missing.stderr
    assert "anbao login" in missing.stderr
    for who in ("outsider", "auditor"):  # another county; a role that does not triage
        refused = w.cli("siem", "alerts", "note", alert_id, "x", token=w.token(who))
        assert refused.returncode == 1, (who, refused.stderr)
    hidden = w.cli("siem", "alerts", "list", token=w.token("outsider"))
    assert hidden.returncode == 0, hidden.stderr
    assert alert_id not in hidden.stdout
    ana = w.token("ana")
    tampered = ana[:-4] + ("AAAA" if not ana.endswith("AAAA") else "BBBB")
    forged = w.cli("siem", "alerts", "note", alert_id, "x", token=tampered)
    assert forged.returncode == 1
    assert "unauthenticated" in forged.stderr
    assert w.api("ana", "GET", f"/siem/alerts/{alert_id}").json()["notes"] == []


def test_a_logged_out_person_acts_no_more_at_the_cli(world: World) -> None:
    w = world
    action = _request(w, "ana", w.alert())
    oidc = f"{w.realm.url}/realms/{w.realm.name}/protocol/openid-connect"
    grant = {"grant_type": "password", "client_id": CLIENT_ID, "scope": "openid",
             "username": w.people["bo"].username, "password": PASSWORD}  # fmt: skip
    tokens = httpx.post(f"{oidc}/token", data=grant, timeout=30).json()
    ended = httpx.post(f"{oidc}/logout", timeout=30, data={
        "client_id": CLIENT_ID, "refresh_token": tokens["refresh_token"]})  # fmt: skip
    assert ended.status_code == 204, ended.text
    refused = w.cli("siem", "actions", "approve", action, token=tokens["access_token"])
    assert refused.returncode == 1, refused.stderr
    listed = w.cli("siem", "actions", "list", "--state", "pending", token=w.token("ana"))
    assert action in listed.stdout


def test_the_server_unreachable_is_exit_3(world: World) -> None:
    w = world
    dead = dataclasses.replace(w, base="http://127.0.0.1:9")
    down = dead.cli("siem", "alerts", "list", token="x")
    assert down.returncode == 3, down.stderr


def test_compliance_sign_off_is_by_the_tokens_officer(world: World, tmp_path: Path) -> None:
    w = world
    ran = w.cli("compliance", "run", "--json", token=w.token("officer"))
    assert ran.returncode in {0, 1}, ran.stderr
    run = json.loads(ran.stdout)
    assert run["requested_by"] == w.people["officer"].username
    files = ["-o", str(tmp_path / "r.pdf"), "--sig", str(tmp_path / "r.sig")]
    files += ["--pub", str(tmp_path / "r.pub")]
    typed = w.cli("compliance", "signoff", "latest", "--officer", "wang.li", *files)
    assert typed.returncode == 2
    for who in ("ana", "county_officer"):  # wrong role; a binding short of the whole tree
        refused = w.cli("compliance", "signoff", "latest", *files, token=w.token(who))
        assert refused.returncode == 1, (who, refused.stderr)
    signed = w.cli("compliance", "signoff", run["id"], *files, token=w.token("officer"))
    assert signed.returncode == 0, signed.stderr
    report = w.api("officer", "GET", f"/compliance/runs/{run['id']}")
    assert report.json()["signoff"]["officer"] == w.people["officer"].username
    checked = w.cli("compliance", "verify-report", str(tmp_path / "r.pdf"),
                    "--sig", str(tmp_path / "r.sig"), "--pub", str(tmp_path / "r.pub"))  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    out = tmp_path / "latest.html"
    made = w.cli("compliance", "report", "latest", "-o", str(out), token=w.token("officer"))
    assert made.returncode == 0, made.stderr
    assert run["id"] in out.read_text(encoding="utf-8")
    history = w.cli("compliance", "history", "--control", "L3-CES1-02", token=w.token("officer"))
    assert history.returncode == 0, history.stderr
    assert run["id"] in history.stdout
    assert "L3-CES1-02:" in history.stdout
    county = w.cli("compliance", "history", "--limit", "1", token=w.token("auditor"))
    assert county.returncode == 1  # a county-bound auditor: platform-wide evidence


def _waive(w: World, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    return w.cli("compliance", "waive", *args, token=w.token(who))


def test_waivers_take_two_officers_compared_by_the_server(world: World) -> None:
    w = world
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    request = ["L3-CES1-02", "--justification", "gateway lockout", "--expires", expires]
    assert w.cli("compliance", "waive", *request, "--approver", "zhao").returncode == 2
    asked = _waive(w, "officer", *request)
    assert asked.returncode == 0, asked.stderr
    waiver_id = asked.stdout.strip()
    mine = _waive(w, "officer", "--approve", waiver_id)
    assert mine.returncode == 1, mine.stderr
    assert "compliance_waiver_self_approval" in mine.stderr
    for who in ("county_officer", "ana"):
        assert _waive(w, who, "--approve", waiver_id).returncode == 1
    assert w.cli("compliance", "waive", "--approve", waiver_id).returncode == 2  # no token
    approved = _waive(w, "officer2", "--approve", waiver_id)
    assert approved.returncode == 0, approved.stderr
    assert f"decided_by={w.people['officer2'].username}" in approved.stdout
    shown = w.api("officer", "GET", f"/compliance/waivers/{waiver_id}").json()
    assert (shown["requested_by_id"], shown["decided_by_id"]) == (
        w.people["officer"].id,
        w.people["officer2"].id,
    )
    steps = w.trail(f'resource.id:"{waiver_id}"', count=2)
    assert sorted((e["event"]["action"], e["user"]["id"]) for e in steps) == [
        ("compliance.waiver.approved", w.people["officer2"].id),
        ("compliance.waiver.requested", w.people["officer"].id),
    ]
    rejected = _waive(w, "officer", "--reject", waiver_id, "--reason", "too late")
    assert rejected.returncode == 1  # no longer pending: the server says so
    assert waiver_id in _waive(w, "officer", "--list").stdout


def test_the_seal_registry_is_read_in_the_persons_scope(world: World) -> None:
    w = world
    dept = w.nodes["dept"]
    body = {
        "org_node": dept.id, "org_name": dept.name, "uscc": dept.code, "name": dept.name + "公章",
        "holders": [w.people["holder"].username], "picture_type": "PNG",
        "picture": base64.b64encode(tiny_png()).decode(), "width_mm": 40, "height_mm": 40,
        "valid_days": 365,
    }  # fmt: skip
    applied = w.api("org_admin", "POST", "/seals", json=body)
    assert applied.status_code == 201, applied.text
    seal_id = applied.json()["id"]
    mine = w.cli("seal", "registry", "list", "--state", "applied", token=w.token("org_admin"))
    assert mine.returncode == 0, mine.stderr
    assert seal_id in mine.stdout
    theirs = w.cli("seal", "registry", "list", token=w.token("other_admin"))
    assert theirs.returncode == 0, theirs.stderr
    assert seal_id not in theirs.stdout
    assert w.cli("seal", "registry", "show", seal_id, token=w.token("other_admin")).returncode == 1
    shown = w.cli("seal", "registry", "show", seal_id, token=w.token("org_admin"))
    assert json.loads(shown.stdout)["applicant"] == w.people["org_admin"].username


def test_audit_search_and_export_as_the_person(world: World, tmp_path: Path) -> None:
    w = world
    action = _request(w, "ana", w.alert())
    (event,) = w.trail(f'event.action:siem.response.requested AND resource.id:"{action}"')
    out = tmp_path / "export.ndjson"
    exported = w.cli("audit", "export", f'resource.id:"{action}"', "-o", str(out),
                     token=w.token("trail_reader"))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["event"]["id"] for line in out.read_text().splitlines()] == [
        event["event"]["id"]
    ]
    bad = w.cli("audit", "search", "user.name:(alice", token=w.token("trail_reader"))
    assert bad.returncode == 1
    assert "at position" in bad.stderr
    refused = w.cli("audit", "search", "*", token=w.token("officer"))  # not an audit reader
    assert refused.returncode == 1, refused.stderr
