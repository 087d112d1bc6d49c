"""OrgService rules on the in-memory directory (the HTTP matrix runs on the real Keycloak)."""

from __future__ import annotations

import pytest

from iam.orgs.codes import uscc_check_char
from iam.orgs.errors import DelegationDenied, InvalidOrgInput, OrgConflict, OrgNotFound
from iam.orgs.model import NodeKind, OrgNode, PersonDraft
from iam.orgs.service import OrgService
from iam.orgs.testing import InMemoryOrgDirectory


def uscc(prefix: str) -> str:
    body = f"11{prefix}MB0000001"
    return body + uscc_check_char(body)


@pytest.fixture
def world() -> tuple[OrgService, dict[str, OrgNode], dict[str, str]]:
    d = InMemoryOrgDirectory()
    p = d.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    f = d.create_node(p, NodeKind.PREFECTURE, "530100", "昆明市")
    a = d.create_node(f, NodeKind.COUNTY, "530102", "A")
    b = d.create_node(f, NodeKind.COUNTY, "530103", "B")
    t = d.create_node(a, NodeKind.TOWNSHIP, "530102101", "T")
    platform = d.create_person(PersonDraft("platform", "平", "台"), [p])
    d.grant_role(platform, "platform-admin")
    admin = d.create_person(PersonDraft("county-a", "管", "理"), [a])
    d.grant_role(admin, "org-admin")
    d.set_admin_node(admin, a)
    nodes = {"p": p, "f": f, "a": a, "b": b, "t": t}
    return OrgService(d), nodes, {"platform": platform.id, "admin": admin.id}


def test_org_admin_lists_only_its_root(world) -> None:
    service, _, who = world
    assert [n.code for n in service.roots(who["admin"])] == ["530102"]
    assert [n.code for n in service.roots(who["platform"])] == ["530000"]


def test_create_checks_code_parent_and_duplicates(world) -> None:
    service, nodes, who = world
    village = service.create_node(
        who["admin"], parent_id=nodes["t"].id, kind="village", code="530102101201", name="村"
    )
    assert village.path == "/530000/530100/530102/530102101/530102101201"
    with pytest.raises(InvalidOrgInput) as info:
        service.create_node(
            who["admin"], parent_id=nodes["t"].id, kind="village", code="530103101201", name="村"
        )
    assert info.value.field == "code"
    with pytest.raises(OrgConflict):
        service.create_node(
            who["admin"], parent_id=nodes["t"].id, kind="village", code="530102101201", name="x"
        )
    with pytest.raises(InvalidOrgInput) as info:
        service.create_node(who["admin"], parent_id=nodes["t"].id, kind="x", code="1", name="x")
    assert info.value.field == "kind"


def test_move_rewrites_member_org_paths_and_refuses_cycles(world) -> None:
    service, nodes, who = world
    dept = service.create_node(
        who["platform"], parent_id=nodes["t"].id, kind="department", code=uscc("530102"), name="D"
    )
    sub = service.create_node(
        who["platform"], parent_id=dept.id, kind="department", code=uscc("530103"), name="S"
    )
    person = service.create_person(who["platform"], PersonDraft("worker", "工", "人"), [sub.id])
    with pytest.raises(OrgConflict):
        service.move_node(who["platform"], dept.id, sub.id)
    moved = service.move_node(who["platform"], dept.id, nodes["b"].id)
    assert moved.path == f"/530000/530100/530103/{dept.code}"
    assert service.person(who["platform"], person.id).org_path == f"{moved.path}/{sub.code}"


def test_disabled_nodes_take_no_members_or_children(world) -> None:
    service, nodes, who = world
    service.update_node(who["admin"], nodes["t"].id, name=None, disabled=True)
    with pytest.raises(OrgConflict):
        service.create_person(who["admin"], PersonDraft("late", "迟", "到"), [nodes["t"].id])
    with pytest.raises(OrgConflict):
        service.create_node(
            who["admin"], parent_id=nodes["t"].id, kind="village", code="530102101202", name="v"
        )


def test_memberships_keep_one_and_follow_primary(world) -> None:
    service, nodes, who = world
    person = service.create_person(who["admin"], PersonDraft("two", "二", "人"), [nodes["t"].id])
    person = service.add_membership(who["admin"], person.id, nodes["a"].id)
    assert person.org_path == nodes["t"].path
    person = service.remove_membership(who["admin"], person.id, nodes["t"].id)
    assert person.org_path == nodes["a"].path
    with pytest.raises(OrgConflict):
        service.remove_membership(who["admin"], person.id, nodes["a"].id)


def test_revoked_binding_stops_at_once(world) -> None:
    service, nodes, who = world
    service.revoke_role(who["platform"], who["admin"], "org-admin")
    with pytest.raises(DelegationDenied):
        service.node(who["admin"], nodes["a"].id)


def test_grant_org_admin_binds_inside_only(world) -> None:
    service, nodes, who = world
    person = service.create_person(who["admin"], PersonDraft("deputy", "副", "手"), [nodes["t"].id])
    with pytest.raises(OrgNotFound):
        service.grant_role(who["admin"], person.id, "org-admin", nodes["b"].id)
    granted = service.grant_role(who["admin"], person.id, "org-admin", nodes["t"].id)
    assert granted.admin_node == nodes["t"].id
    assert "org-admin" in granted.roles


@pytest.mark.parametrize("username", ["court.judge", "Court.Judge", "court.x"])
def test_brokers_username_prefix_is_reserved(username: str) -> None:
    """Issue 16 §3: a local ``court.x`` would squat the account a court user gets."""
    d = InMemoryOrgDirectory(broker_prefixes=frozenset({"court."}))
    p = d.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    service = OrgService(d, operator=True)
    with pytest.raises(InvalidOrgInput) as caught:
        service.create_person("op", PersonDraft(username.lower(), "法", "官"), [p.id])
    assert caught.value.field == "username"
    assert "court." in caught.value.reason
    assert service.create_person("op", PersonDraft("courtney", "法", "官"), [p.id]).id


def test_any_grant_may_bind_the_scope_inside_only(world) -> None:
    """Issue 16 §2.1: an auditor of a county is bound there (its org scope everywhere)."""
    from iam.orgs.scope import resolve_scope

    service, nodes, who = world
    person = service.create_person(
        who["admin"], PersonDraft("county-auditor", "审", "计"), [nodes["t"].id]
    )
    with pytest.raises(DelegationDenied):  # the county admin holds no auditor role to grant
        service.grant_role(who["admin"], person.id, "auditor", nodes["t"].id)
    with pytest.raises(OrgNotFound):
        service.grant_role(who["platform"], person.id, "auditor", "no-such-node")
    granted = service.grant_role(who["platform"], person.id, "auditor", nodes["a"].id)
    assert granted.admin_node == nodes["a"].id
    scope = resolve_scope(service.directory, person.id)
    assert scope.root_id == nodes["a"].id
