"""Who may give an app's roles to whom, and that every change and refusal is reported.

In memory (the org directory and the app directory); the same rules on the real Keycloak are in
tests/integration/iam/apps/test_roles.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from iam.apps.model import parse_registration
from iam.apps.roles import AppRoleService
from iam.apps.service import AppService
from iam.apps.testing import MemoryAppDirectory, RecordedRoleChanges
from iam.errors import (
    AppNotOwned,
    AppRoleNotFound,
    Forbidden,
    NotFound,
    PersonNotFound,
    SelfGrantDenied,
)
from iam.orgs.model import NodeKind, PersonDraft
from iam.orgs.service import OrgService
from iam.orgs.testing import InMemoryOrgDirectory
from iam.role_audit import RoleAction
from iam.tokens.model import Principal


@dataclasses.dataclass
class World:
    apps: MemoryAppDirectory
    people: InMemoryOrgDirectory
    audit: RecordedRoleChanges
    roles: AppRoleService
    ids: dict[str, str]

    def who(self, name: str) -> Principal:
        person = self.people.get_person(self.ids[name])
        assert person is not None
        return Principal(
            subject=person.id,
            username=person.username,
            client_id="anbao-cli",
            roles=person.roles,
            scopes=frozenset(),
            acr="1",
            org_path=person.org_path,
            expires_at=2**40,
            claims={},
        )


@pytest.fixture
def world() -> World:
    people = InMemoryOrgDirectory()
    p = people.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    f = people.create_node(p, NodeKind.PREFECTURE, "530100", "昆明市")
    a = people.create_node(f, NodeKind.COUNTY, "530102", "五华区")
    b = people.create_node(f, NodeKind.COUNTY, "530103", "盘龙区")
    ids: dict[str, str] = {}
    for name, nodes, roles in [
        ("platform", [p], ["platform-admin"]),
        ("dev", [f], ["app-developer"]),
        ("other_dev", [f], ["app-developer"]),
        ("admin_a", [a], ["org-admin"]),
        ("clerk_a", [a], []),
        ("clerk_b", [b], []),
        ("both", [a, b], []),
    ]:
        person = people.create_person(PersonDraft(name.replace("_", "-"), "测", "试"), nodes)
        for role in roles:
            people.grant_role(person, role)
        ids[name] = person.id
    admin = people.get_person(ids["admin_a"])
    assert admin is not None
    people.set_admin_node(admin, a)
    apps = MemoryAppDirectory()
    apps.usernames = {i: name.replace("_", "-") for name, i in ids.items()}
    audit = RecordedRoleChanges()
    w = World(apps, people, audit, AppRoleService(apps, people, audit), ids)
    registration = parse_registration(
        {"client_id": "permits", "type": "confidential", "service_account": True,
         "roles": ["clerk", "approver"]}
    )  # fmt: skip
    AppService(apps, issuer="https://kc/realms/anbao", clock=lambda: 0).register(
        w.who("dev"), registration
    )
    return w


def test_owner_grants_to_anybody_and_sees_every_holder(world: World) -> None:
    w = world
    holder = w.roles.grant(w.who("dev"), "permits", "clerk", "clerk-b")
    assert holder.username == "clerk-b"
    w.roles.grant(w.who("dev"), "permits", "clerk", w.ids["clerk_a"])  # by id too
    roles = {
        r.name: [h.username for h in r.holders] for r in w.roles.roles(w.who("dev"), "permits")
    }
    assert roles == {"approver": [], "clerk": ["clerk-a", "clerk-b"]}
    change = w.audit.changes[0]
    assert (change.action, change.actor_username, change.target_username) == (
        RoleAction.GRANT,
        "dev",
        "clerk-b",
    )
    assert (change.role, change.client_id, change.succeeded) == ("clerk", "permits", True)
    assert change.org_path == w.people.get_person(w.ids["clerk_b"]).org_path  # type: ignore[union-attr]


def test_org_admin_reaches_only_people_wholly_in_the_subtree(world: World) -> None:
    w = world
    admin = w.who("admin_a")
    w.roles.grant(admin, "permits", "approver", "clerk-a")
    for outside in ("clerk-b", "both", "no-such-person"):
        with pytest.raises(PersonNotFound, match="in your part of the org tree"):
            w.roles.grant(admin, "permits", "approver", outside)
    w.roles.grant(w.who("dev"), "permits", "approver", "clerk-b")
    seen = {r.name: [h.username for h in r.holders] for r in w.roles.roles(admin, "permits")}
    assert seen["approver"] == ["clerk-a"]  # clerk-b holds it too, outside A
    with pytest.raises(PersonNotFound):
        w.roles.revoke(admin, "permits", "approver", w.ids["clerk_b"])
    w.roles.revoke(admin, "permits", "approver", w.ids["clerk_a"])
    assert w.apps.held_roles("permits", w.ids["clerk_a"]) == frozenset()
    refused = [c for c in w.audit.changes if not c.succeeded]
    assert [c.reason for c in refused] == ["person_not_found"] * 4


def test_unknown_role_names_the_roles(world: World) -> None:
    w = world
    with pytest.raises(AppRoleNotFound, match=r"has no role 'x' \(its roles: approver, clerk\)"):
        w.roles.grant(w.who("dev"), "permits", "x", "clerk-a")
    with pytest.raises(AppRoleNotFound, match="does not hold the role 'clerk'"):
        w.roles.revoke(w.who("dev"), "permits", "clerk", "clerk-a")


def test_nobody_gives_themselves_a_role_not_even_the_owner(world: World) -> None:
    w = world
    for who, name in [("dev", "dev"), ("admin_a", "admin-a"), ("platform", "platform")]:
        with pytest.raises(SelfGrantDenied):
            w.roles.grant(w.who(who), "permits", "clerk", name)
    assert [c.reason for c in w.audit.changes] == ["role_self_grant"] * 3
    assert all(c.target_username == c.actor_username for c in w.audit.changes)


def test_others_do_not_see_the_app(world: World) -> None:
    w = world
    for who in ("other_dev", "clerk_a"):
        with pytest.raises(NotFound, match="No app with client_id 'permits'"):
            w.roles.grant(w.who(who), "permits", "clerk", "clerk-b")
        with pytest.raises(NotFound):
            w.roles.roles(w.who(who), "permits")
    with pytest.raises(NotFound):
        w.roles.grant(w.who("platform"), "admin-cli", "x", "clerk-b")  # not registered here


def test_the_live_directory_decides_not_the_token(world: World) -> None:
    """A revoked org-admin with a token still claiming the role is refused at once."""
    w = world
    token = w.who("admin_a")
    admin = w.people.get_person(w.ids["admin_a"])
    assert admin is not None
    w.people.revoke_role(admin, "org-admin")
    with pytest.raises(NotFound):
        w.roles.grant(token, "permits", "clerk", "clerk-a")
    w.people.update_person(admin, draft=PersonDraft("admin-a", "测", "试"), enabled=False)
    with pytest.raises(Forbidden):
        w.roles.roles(token, "permits")


def test_an_owner_without_the_developer_role_owns_nothing(world: World) -> None:
    w = world
    token = w.who("dev")  # still claims app-developer
    dev = w.people.get_person(w.ids["dev"])
    assert dev is not None
    w.people.revoke_role(dev, "app-developer")
    with pytest.raises(NotFound):
        w.roles.grant(token, "permits", "clerk", "clerk-a")


def test_an_org_admin_reads_the_app_but_does_not_change_it(world: World) -> None:
    w = world
    service = AppService(w.apps, issuer="https://kc/realms/anbao", clock=lambda: 0)
    admin = w.who("admin_a")
    assert [a.client_id for a in service.list(admin)] == ["permits"]
    assert service.describe(admin, "permits").roles == ("approver", "clerk")
    with pytest.raises(AppNotOwned, match="You do not own the app 'permits'"):
        service.disable(admin, "permits")
    with pytest.raises(AppNotOwned):
        service.rotate_secret(admin, "permits")


def test_platform_role_grants_and_refusals_are_reported(world: World) -> None:
    w = world
    orgs = OrgService(w.people, audit=w.audit)
    orgs.grant_role(w.ids["platform"], w.ids["clerk_a"], "auditor")
    orgs.revoke_role(w.ids["platform"], w.ids["clerk_a"], "auditor")
    with pytest.raises(SelfGrantDenied):
        orgs.grant_role(w.ids["admin_a"], w.ids["admin_a"], "seal-user")
    with pytest.raises(Forbidden, match="auditor is a role you do not hold"):
        orgs.grant_role(w.ids["admin_a"], w.ids["clerk_a"], "auditor")
    with pytest.raises(Forbidden, match="Only a platform-admin grants or revokes platform-admin"):
        orgs.grant_role(w.ids["admin_a"], w.ids["clerk_a"], "platform-admin")
    got = [
        (c.action, c.actor_username, c.target_username, c.role, c.reason) for c in w.audit.changes
    ]
    assert got == [
        (RoleAction.GRANT, "platform", "clerk-a", "auditor", ""),
        (RoleAction.REVOKE, "platform", "clerk-a", "auditor", ""),
        (RoleAction.GRANT, "admin-a", "admin-a", "seal-user", "role_self_grant"),
        (RoleAction.GRANT, "admin-a", "clerk-a", "auditor", "delegation_denied"),
        (RoleAction.GRANT, "admin-a", "clerk-a", "platform-admin", "delegation_denied"),
    ]
    assert w.audit.changes[0].actor_roles == frozenset({"platform-admin"})
    assert all(c.client_id == "" for c in w.audit.changes)
