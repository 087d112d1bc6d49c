"""Invitations through Anbao's HTTP API against the real Keycloak: delegated administration,
the public activation page, resend, revoke, find, and the audit events of each act."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.audit import spool_config
from anbao.wiring.iam import build_org_directory
from audit.recording.recorder import Recorder
from audit.recording.spool import Spool
from iam.orgs.model import NodeKind, OrgNode, Person
from tests.integration.conftest import Server
from tests.integration.iam.orgs.test_delegation import NullAuditStore
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class World:
    realm: Realm
    client: falcon.testing.TestClient
    a: OrgNode
    b: OrgNode
    tokens: dict[str, str]
    people: dict[str, Person]
    spool: Path
    serial: int = 0

    def call(self, who: str, method: str, path: str, body: object = None) -> falcon.testing.Result:
        headers = {"Authorization": "Bearer " + self.tokens[who]}
        return self.client.simulate_request(method, path, headers=headers, json=body)

    def invite(self, who: str, node: OrgNode, **extra: Any) -> falcon.testing.Result:
        self.serial += 1
        body = {
            "username": f"inv-{self.serial}-{who.replace('_', '-')}",
            "family_name": "张",
            "given_name": "三",
            "memberships": [node.id],
            **extra,
        }
        return self.call(who, "POST", "/iam/invitations", body)

    def events(self, action: str) -> list[dict[str, Any]]:
        with sqlite3.connect(self.spool) as db:
            docs = [json.loads(d) for (d,) in db.execute("SELECT doc FROM spool")]
        return [d for d in docs if d["event"]["action"] == action]


@pytest.fixture(scope="module")
def world(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    env = keycloak.env
    realm = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    state = tmp_path_factory.mktemp("invitations")
    try:
        province = realm.node(None, NodeKind.PROVINCE, "530000", "云南省")
        prefecture = realm.node(province, NodeKind.PREFECTURE, "530100", "昆明市")
        a = realm.node(prefecture, NodeKind.COUNTY, "530102", "五华区")
        b = realm.node(prefecture, NodeKind.COUNTY, "530103", "盘龙区")
        people = {
            "platform": realm.person([province], "platform-admin"),
            "org_admin": realm.person([a], "org-admin", admin_node=a),
            "plain": realm.person([a]),
        }
        tokens = {who: realm.token(p.username) for who, p in people.items()}
        settings = Settings.load(
            realm.settings_env(env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"])
            | {
                "ANBAO_AUDIT_SPOOL_PATH": str(state / "spool.sqlite3"),
                "ANBAO_SERVER_ACCESS_LOG": "false",
            }
        )
        directory = build_org_directory(settings)
        spool = Spool(spool_config(settings))
        recorder = Recorder(spool)
        parts = Parts(
            org_directory=directory, audit_store=NullAuditStore(), audit_recorder=recorder
        )
        client = falcon.testing.TestClient(create_app(settings, parts))
        try:
            yield World(realm, client, a, b, tokens, people, state / "spool.sqlite3")
        finally:
            recorder.close()
            spool.close()
            directory.admin.close()
    finally:
        delete_realm(realm)


def _token(invitation: dict[str, Any]) -> str:
    return str(invitation["activation_path"]).removeprefix("/activate/")


def test_org_admins_invite_inside_their_subtree_only(world: World) -> None:
    w = world
    made = w.invite("org_admin", w.a)
    assert made.status_code == 201, made.text
    assert made.json["delivery"] == "link"
    assert made.headers["cache-control"] == "no-store"
    assert w.invite("org_admin", w.b).status_code == 404
    assert w.invite("org_admin", w.a, role="platform-admin").status_code == 403
    assert w.invite("org_admin", w.a, role="org-admin", node_id=w.b.id).status_code == 404
    assert w.invite("plain", w.a).status_code == 403
    refused = [f"inv-{n}-org-admin" for n in (2, 3, 4)] + ["inv-5-plain"]
    for username in refused:
        assert w.realm.directory.find_person(username) is None, username
    (event,) = [
        e for e in w.events("iam.person.invite") if e["resource"]["name"] == "inv-1-org-admin"
    ]
    assert event["user"]["name"] == w.people["org_admin"].username
    assert event["user"]["id"] == w.people["org_admin"].id
    assert event["organization"]["path"] == w.a.path


def test_the_activation_page_consumes_a_link_once(world: World) -> None:
    w = world
    invitation = w.invite("platform", w.a).json
    path = f"/activate/{_token(invitation)}"
    page = w.client.simulate_get(path)  # no bearer token: the page is public
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    done = w.client.simulate_post(path)
    assert done.status_code == 200
    password = re.search(r'id="password">([^<]+)<', done.text)
    assert password, done.text
    assert w.client.simulate_post(path).status_code == 404
    user = w.realm.admin.json(f"/users/{invitation['person_id']}")
    assert user["requiredActions"] == ["UPDATE_PASSWORD"]
    again = w.call("platform", "POST", f"/iam/people/{invitation['person_id']}/invitation")
    assert again.status_code == 409, again.text
    (event,) = [e for e in w.events("iam.person.activate")
                if e["resource"]["id"] == invitation["person_id"]]  # fmt: skip
    assert event["user"]["id"] == invitation["person_id"]
    assert w.client.simulate_get("/activate/not-a-token").status_code == 404


def test_resend_replaces_the_link_and_revoke_ends_it(world: World) -> None:
    w = world
    first = w.invite("org_admin", w.a).json
    person = first["person_id"]
    second = w.call("org_admin", "POST", f"/iam/people/{person}/invitation")
    assert second.status_code == 200, second.text
    assert _token(second.json) != _token(first)
    assert w.client.simulate_get(f"/activate/{_token(first)}").status_code == 404
    assert w.client.simulate_get(f"/activate/{_token(second.json)}").status_code == 200
    revoked = w.call("org_admin", "DELETE", f"/iam/people/{person}/invitation")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json["enabled"] is False
    assert w.client.simulate_get(f"/activate/{_token(second.json)}").status_code == 404
    theirs = w.invite("platform", w.b).json["person_id"]
    for method in ("POST", "DELETE"):
        assert w.call("org_admin", method, f"/iam/people/{theirs}/invitation").status_code == 404
    actions = {e["event"]["action"] for e in w.events("iam.person.invite_resend")}
    actions |= {e["event"]["action"] for e in w.events("iam.person.invite_revoke")}
    assert actions == {"iam.person.invite_resend", "iam.person.invite_revoke"}


def test_find_people_by_name_within_the_subtree(world: World) -> None:
    w = world
    w.invite("platform", w.b)
    everyone = w.call("platform", "GET", "/iam/people", None)
    assert everyone.status_code in (400, 404)  # q is required
    found = w.call("platform", "GET", "/iam/people?q=inv-")
    assert found.status_code == 200, found.text
    names = {p["username"] for p in found.json["items"]}
    theirs = w.call("org_admin", "GET", "/iam/people?q=inv-").json["items"]
    assert {p["org_path"] for p in theirs} == {w.a.path}
    assert {p["username"] for p in theirs} < names
    by_mail = w.call("platform", "GET", f"/iam/people?q={w.people['plain'].username}@example.test")
    assert [p["username"] for p in by_mail.json["items"]] == [w.people["plain"].username]
