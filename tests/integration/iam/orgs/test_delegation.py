"""Delegated administration through Anbao's HTTP API against the real Keycloak.

The matrix: role (platform-admin, org-admin bound to county A, plain user) x operation x target
inside / outside A's subtree, with real user tokens from a throwaway realm. Each case builds its
own fresh targets so cases cannot influence each other.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.iam import build_org_directory
from iam.apps.testing import RecordedRoleChanges
from iam.orgs.model import NodeKind, OrgNode, Person
from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import Realm, create_realm, delete_realm

_SERIAL = itertools.count(101)


class NullAuditStore:
    """The audit package is not under test here; its real stores have their own tests."""

    kind = "null"

    def ping(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclasses.dataclass
class World:
    realm: Realm
    client: falcon.testing.TestClient
    county_a: OrgNode
    county_b: OrgNode
    prefecture: OrgNode
    tokens: dict[str, str]
    people: dict[str, Person]

    def call(self, who: str, method: str, path: str, body: object = None) -> falcon.testing.Result:
        headers = {"Authorization": "Bearer " + self.tokens[who]}
        return self.client.simulate_request(method, path, headers=headers, json=body)

    def township(self, inside: bool) -> OrgNode:
        county = self.county_a if inside else self.county_b
        code = f"{county.code}{next(_SERIAL):03d}"
        return self.realm.node(county, NodeKind.TOWNSHIP, code, f"乡{code}")

    def department(self, parent: OrgNode) -> OrgNode:
        from iam.orgs.codes import uscc_check_char

        body = f"11{parent.code[:6]}MB{next(_SERIAL):07d}"
        return self.realm.node(parent, NodeKind.DEPARTMENT, body + uscc_check_char(body), "科室")


@pytest.fixture(scope="module")
def world(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    env = keycloak.env
    realm = create_realm(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    try:
        province = realm.node(None, NodeKind.PROVINCE, "530000", "云南省")
        prefecture = realm.node(province, NodeKind.PREFECTURE, "530100", "昆明市")
        county_a = realm.node(prefecture, NodeKind.COUNTY, "530102", "五华区")
        county_b = realm.node(prefecture, NodeKind.COUNTY, "530103", "盘龙区")
        people = {
            "platform": realm.person([province], "platform-admin"),
            "org_admin": realm.person([county_a], "org-admin", "seal-user", admin_node=county_a),
            "plain": realm.person([county_a]),
        }
        tokens = {who: realm.token(p.username) for who, p in people.items()}
        settings = Settings.load(
            {
                **realm.settings_env(
                    env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
                ),
                "ANBAO_AUDIT_SQLITE_PATH": str(Path(tmp_path_factory.mktemp("audit")) / "a.db"),
                "ANBAO_SERVER_ACCESS_LOG": "false",
            }
        )
        directory = build_org_directory(settings)
        parts = Parts(
            org_directory=directory,
            audit_store=NullAuditStore(),
            role_audit=RecordedRoleChanges(),
        )
        client = falcon.testing.TestClient(create_app(settings, parts))
        try:
            yield World(realm, client, county_a, county_b, prefecture, tokens, people)
        finally:
            directory.admin.close()
    finally:
        delete_realm(realm)


# -- the matrix ----------------------------------------------------------------------------------
Op = Callable[[World, str, bool], falcon.testing.Result]


def _get_node(w: World, who: str, inside: bool) -> falcon.testing.Result:
    return w.call(who, "GET", f"/iam/orgs/{w.township(inside).id}")


def _children(w: World, who: str, inside: bool) -> falcon.testing.Result:
    return w.call(who, "GET", f"/iam/orgs/{w.township(inside).id}/children")


def _create_child(w: World, who: str, inside: bool) -> falcon.testing.Result:
    t = w.township(inside)
    body = {"parent_id": t.id, "kind": "village", "code": t.code + "001", "name": "新村"}
    return w.call(who, "POST", "/iam/orgs", body)


def _rename(w: World, who: str, inside: bool) -> falcon.testing.Result:
    return w.call(who, "PATCH", f"/iam/orgs/{w.township(inside).id}", {"name": "改名乡"})


def _disable(w: World, who: str, inside: bool) -> falcon.testing.Result:
    return w.call(who, "PATCH", f"/iam/orgs/{w.township(inside).id}", {"disabled": True})


def _move_within(w: World, who: str, inside: bool) -> falcon.testing.Result:
    dept = w.department(w.township(inside))
    target = w.township(inside)
    return w.call(who, "POST", f"/iam/orgs/{dept.id}/move", {"parent_id": target.id})


def _move_across(w: World, who: str, inside: bool) -> falcon.testing.Result:
    """inside: move a department of A into B; outside: move one of B into A."""
    dept = w.department(w.township(inside))
    target = w.township(not inside)
    return w.call(who, "POST", f"/iam/orgs/{dept.id}/move", {"parent_id": target.id})


def _members(w: World, who: str, inside: bool) -> falcon.testing.Result:
    return w.call(who, "GET", f"/iam/orgs/{w.township(inside).id}/members")


def _create_person(w: World, who: str, inside: bool) -> falcon.testing.Result:
    t = w.township(inside)
    body = {
        "username": f"new-{t.code}",
        "family_name": "李",
        "given_name": "四",
        "email": f"new-{t.code}@example.test",
        "attributes": {"title": "村干部"},
        "memberships": [t.id],
    }
    return w.call(who, "POST", "/iam/people", body)


def _target(w: World, inside: bool, *roles: str) -> Person:
    return w.realm.person([w.township(inside)], *roles)


def _get_person(w: World, who: str, inside: bool) -> falcon.testing.Result:
    return w.call(who, "GET", f"/iam/people/{_target(w, inside).id}")


def _update_person(w: World, who: str, inside: bool) -> falcon.testing.Result:
    body = {"attributes": {"title": "站长"}, "given_name": "五"}
    return w.call(who, "PATCH", f"/iam/people/{_target(w, inside).id}", body)


def _add_membership(w: World, who: str, inside: bool) -> falcon.testing.Result:
    person, node = _target(w, inside), w.township(inside)
    return w.call(who, "PUT", f"/iam/people/{person.id}/memberships/{node.id}")


def _remove_membership(w: World, who: str, inside: bool) -> falcon.testing.Result:
    first, second = w.township(inside), w.township(inside)
    person = w.realm.person([first, second])
    return w.call(who, "DELETE", f"/iam/people/{person.id}/memberships/{second.id}")


def _grant(role: str, bind: bool = False) -> Op:
    def op(w: World, who: str, inside: bool) -> falcon.testing.Result:
        person = _target(w, inside)
        body = {"node_id": w.township(inside).id} if bind else None
        return w.call(who, "PUT", f"/iam/people/{person.id}/roles/{role}", body)

    return op


def _revoke_seal_user(w: World, who: str, inside: bool) -> falcon.testing.Result:
    person = _target(w, inside, "seal-user")
    return w.call(who, "DELETE", f"/iam/people/{person.id}/roles/seal-user")


OPS: dict[str, tuple[Op, int]] = {
    "get_node": (_get_node, 200),
    "children": (_children, 200),
    "create_child": (_create_child, 201),
    "rename": (_rename, 200),
    "disable": (_disable, 200),
    "move_within": (_move_within, 200),
    "move_across": (_move_across, 200),
    "members": (_members, 200),
    "create_person": (_create_person, 201),
    "get_person": (_get_person, 200),
    "update_person": (_update_person, 200),
    "add_membership": (_add_membership, 200),
    "remove_membership": (_remove_membership, 200),
    "grant_seal_user": (_grant("seal-user"), 200),
    "grant_org_admin": (_grant("org-admin", bind=True), 200),
    "grant_auditor": (_grant("auditor"), 200),
    "grant_platform_admin": (_grant("platform-admin"), 200),
    "revoke_seal_user": (_revoke_seal_user, 200),
}
#: What an org-admin bound to A may not do even inside A (roles above its own).
ABOVE_ORG_ADMIN = {"grant_auditor", "grant_platform_admin"}


def _expected(who: str, op: str, inside: bool) -> int:
    success = OPS[op][1]
    if who == "platform":
        return success
    if who == "plain":
        return 403
    if not inside or op == "move_across":  # a destination outside A is not found either
        return 404
    return 403 if op in ABOVE_ORG_ADMIN else success


@pytest.mark.parametrize("inside", [True, False], ids=["inside", "outside"])
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("who", ["platform", "org_admin", "plain"])
def test_matrix(world: World, who: str, op: str, inside: bool) -> None:
    result = OPS[op][0](world, who, inside)
    assert result.status_code == _expected(who, op, inside), result.text
    if result.status_code >= 400:
        assert result.headers["content-type"] == "application/problem+json"


# -- the edges of the subtree --------------------------------------------------------------------
def test_org_admin_sees_its_root_but_cannot_change_it(world: World) -> None:
    a = world.county_a.id
    assert world.call("org_admin", "GET", f"/iam/orgs/{a}").status_code == 200
    roots = world.call("org_admin", "GET", "/iam/orgs").json["items"]
    assert [n["code"] for n in roots] == [world.county_a.code]
    for method, path, body in [
        ("PATCH", f"/iam/orgs/{a}", {"name": "改"}),
        ("PATCH", f"/iam/orgs/{a}", {"disabled": True}),
        ("POST", f"/iam/orgs/{a}/move", {"parent_id": world.county_b.id}),
    ]:
        result = world.call("org_admin", method, path, body)
        assert result.status_code == 403, result.text
        assert result.json["type"] == "urn:anbao:problem:delegation_denied"


def test_org_admin_cannot_see_ancestors_or_create_roots(world: World) -> None:
    assert world.call("org_admin", "GET", f"/iam/orgs/{world.prefecture.id}").status_code == 404
    body = {"kind": "province", "code": "520000", "name": "贵州省"}
    assert world.call("org_admin", "POST", "/iam/orgs", body).status_code == 403


def test_nobody_administers_themselves(world: World) -> None:
    for who in ("org_admin", "platform"):
        me = world.people[who].id
        assert world.call(who, "PUT", f"/iam/people/{me}/roles/seal-user").status_code == 403
        assert world.call(who, "PATCH", f"/iam/people/{me}", {"given_name": "x"}).status_code == 403
    me = world.people["org_admin"].id
    assert world.call("org_admin", "GET", f"/iam/people/{me}").status_code == 200


def test_people_spanning_the_boundary_or_above_the_admin_are_out_of_reach(world: World) -> None:
    spanning = world.realm.person([world.township(True), world.township(False)])
    assert world.call("org_admin", "GET", f"/iam/people/{spanning.id}").status_code == 404
    auditor = world.realm.person([world.township(True)], "auditor")
    result = world.call("org_admin", "PATCH", f"/iam/people/{auditor.id}", {"given_name": "x"})
    assert result.status_code == 403
    outside_admin = world.realm.person([world.township(True)], "org-admin")
    world.realm.directory.set_admin_node(outside_admin, world.county_b)
    path = f"/iam/people/{outside_admin.id}/roles/org-admin"
    assert world.call("org_admin", "DELETE", path).status_code == 403


def test_members_listing_hides_people_partly_outside(world: World) -> None:
    town = world.township(True)
    inside = world.realm.person([town])
    spanning = world.realm.person([town, world.township(False)])
    listed = world.call("org_admin", "GET", f"/iam/orgs/{town.id}/members").json["items"]
    assert {p["id"] for p in listed} == {inside.id}
    listed = world.call("platform", "GET", f"/iam/orgs/{town.id}/members").json["items"]
    assert {p["id"] for p in listed} == {inside.id, spanning.id}


def test_granted_org_admin_works_at_once_and_revocation_stops_it(world: World) -> None:
    town = world.township(True)
    deputy = world.realm.person([town])
    grant = world.call(
        "org_admin", "PUT", f"/iam/people/{deputy.id}/roles/org-admin", {"node_id": town.id}
    )
    assert grant.status_code == 200, grant.text
    assert grant.json["admin_node"] == town.id
    # L3-CES1-04: a new administrator must set up OTP at the next sign-in.
    assert world.realm.required_actions(deputy.id) == ["CONFIGURE_TOTP"]
    world.realm.enrolled(deputy.id)
    world.tokens["deputy"] = world.realm.token(deputy.username)
    assert world.call("deputy", "GET", f"/iam/orgs/{town.id}").status_code == 200
    assert world.call("deputy", "GET", f"/iam/orgs/{world.county_a.id}").status_code == 404
    revoke = world.call("org_admin", "DELETE", f"/iam/people/{deputy.id}/roles/org-admin")
    assert revoke.status_code == 200, revoke.text
    # Same token, still unexpired: the binding is read live, so the power is gone.
    assert world.call("deputy", "GET", f"/iam/orgs/{town.id}").status_code == 403


@pytest.mark.parametrize(("role", "otp"), [("platform-admin", True), ("seal-admin", True),
                                          ("auditor", False), ("seal-user", False)])  # fmt: skip
def test_granting_an_administrative_role_requires_otp_set_up(
    world: World, role: str, otp: bool
) -> None:
    """Issue 16 §5: an administrator without OTP would fail L3-CES1-04 until their first login."""
    person = _target(world, True)
    grant = world.call("platform", "PUT", f"/iam/people/{person.id}/roles/{role}")
    assert grant.status_code == 200, grant.text
    assert world.realm.required_actions(person.id) == (["CONFIGURE_TOTP"] if otp else [])
    again = world.call("platform", "PUT", f"/iam/people/{person.id}/roles/{role}")
    assert again.status_code == 200, again.text
    assert world.realm.required_actions(person.id) == (["CONFIGURE_TOTP"] if otp else [])


def test_org_path_claim_follows_the_primary_node(world: World) -> None:
    town = world.township(True)
    person = world.realm.person([town])
    token = world.realm.token(person.username)
    world.tokens["member"] = token
    who = world.call("member", "GET", "/whoami")
    assert who.status_code == 200, who.text
    assert town.path in who.text


def test_bad_input_names_the_field(world: World) -> None:
    town = world.township(True)
    cases = [
        ({"parent_id": town.id, "kind": "village", "code": "12345", "name": "v"}, "code"),
        ({"parent_id": town.id, "kind": "hamlet", "code": town.code + "201", "name": "v"}, "kind"),
        ({"parent_id": town.id, "kind": "village", "code": town.code + "201", "name": ""}, "name"),
        (
            {"parent_id": town.id, "kind": "department", "code": "91350100M000100Y44", "name": "d"},
            "code",
        ),
        ({"parent_id": town.id, "kind": "village", "code": 5, "name": "v"}, "code"),
    ]
    for body, field in cases:
        result = world.call("platform", "POST", "/iam/orgs", body)
        assert result.status_code == 400, result.text
        assert result.json["type"] == "urn:anbao:problem:invalid_org_input"
        assert result.json["field"] == field
    person = {"username": "X", "family_name": "a", "given_name": "b", "memberships": [town.id]}
    result = world.call("platform", "POST", "/iam/people", person)
    assert result.json["field"] == "username"
    # Keycloak's own user-profile check (stricter e-mail rules) is reported by field too.
    person |= {"username": "odd-mail", "email": "odd@mail..test"}
    result = world.call("platform", "POST", "/iam/people", person)
    assert result.status_code == 400, result.text
    assert result.json["field"] == "email"


def test_missing_token_is_401(world: World) -> None:
    result = world.client.simulate_get("/iam/orgs")
    assert result.status_code == 401
    assert result.headers["www-authenticate"].startswith("Bearer")


# -- bulk import through the API -----------------------------------------------------------------
def _upload(world: World, who: str, kind: str, text: str, dry_run: bool = False):
    headers = {"Authorization": "Bearer " + world.tokens[who], "Content-Type": "text/csv"}
    query = "dry_run=true" if dry_run else ""
    return world.client.simulate_post(
        f"/iam/imports/{kind}", body=text.encode(), headers=headers, query_string=query
    )


def test_org_admin_imports_inside_its_subtree_only(world: World) -> None:
    inside, outside = world.township(True), world.township(False)
    nodes = (
        "kind,code,name,parent_code\n"
        f"village,{inside.code}201,一村,{inside.code}\n"
        f"village,{inside.code}202,二村,{inside.code}\n"
    )
    dry = _upload(world, "org_admin", "nodes", nodes, dry_run=True)
    assert dry.json == {"valid_rows": 2, "dry_run": True}
    assert world.realm.directory.find_node(f"{inside.code}201") is None
    done = _upload(world, "org_admin", "nodes", nodes)
    assert done.status_code == 200, done.text
    assert done.json["created"] == 2
    again = _upload(world, "org_admin", "nodes", nodes)  # a re-post resumes: nothing twice
    assert again.json["created"] == 0
    assert again.json["skipped"] == 2

    bad = (
        "kind,code,name,parent_code\n"
        f"village,{outside.code}201,外村,{outside.code}\n"
        "province,520000,贵州省,\n"
    )
    result = _upload(world, "org_admin", "nodes", bad)
    assert result.status_code == 422, result.text
    assert result.json["type"] == "urn:anbao:problem:import_invalid"
    assert {(f["row"], f["column"]) for f in result.json["findings"]} == {
        (2, "parent_code"),
        (3, "parent_code"),
    }
    assert world.realm.directory.find_node(f"{outside.code}201") is None


def test_people_import_joins_only_visible_nodes(world: World) -> None:
    inside, outside = world.township(True), world.township(False)
    header = "username,family_name,given_name,email,org_codes,attr.title\n"
    good = header + f"imp-{inside.code},王,五,imp-{inside.code}@example.test,{inside.code},站长\n"
    result = _upload(world, "org_admin", "people", good)
    assert result.status_code == 200, result.text
    assert result.json["created"] == 1
    person = world.realm.directory.find_person(f"imp-{inside.code}")
    assert person is not None
    assert person.memberships == (inside.id,)
    assert person.attributes["title"] == "站长"
    bad = header + f"imp-{outside.code},赵,六,,{outside.code},\n"
    result = _upload(world, "org_admin", "people", bad)
    assert result.status_code == 422
    assert result.json["findings"][0]["column"] == "org_codes"


def test_import_refuses_other_media_types(world: World) -> None:
    headers = {"Authorization": "Bearer " + world.tokens["platform"], "Content-Type": "text/plain"}
    result = world.client.simulate_post("/iam/imports/nodes", body=b"x", headers=headers)
    assert result.status_code == 415
