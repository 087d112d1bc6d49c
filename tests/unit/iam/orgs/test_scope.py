"""The one org-scope authority (issue 16 §2.1): live binding, node ids, canonical paths."""

from __future__ import annotations

import pytest

from iam.orgs.model import NodeKind, OrgNode, PersonDraft
from iam.orgs.scope import OrgScope, canonical_path, path_within, resolve_scope
from iam.orgs.testing import InMemoryOrgDirectory


@pytest.mark.parametrize(
    ("root", "path", "inside"),
    [
        ("/53/5301", "/53/5301", True),
        ("/53/5301", "/53/5301/530102", True),
        ("/53/5301", "/53/53011", False),  # a string prefix is no subtree
        ("/53/5301", "/53/5301/../5302", False),
        ("/53/5301", "/53/5301/./x", False),
        ("/53/5301", "/53/5301//x", False),
        ("/53/5301", "/53/5301/", False),
        ("/53/5301/..", "/53/5302", False),
        ("/53/5301", "53/5301/x", False),
        ("/53/5301", "/53/5301/x\n", False),
    ],
)
def test_path_within_is_segment_wise_and_canonical(root: str, path: str, inside: bool) -> None:
    assert path_within(root, path) is inside


def test_canonical_path() -> None:
    assert canonical_path("/530000/530100") == "/530000/530100"
    for bad in ("", "/", "relative", "/a/../b", "/a/./b", "/a//b", "/a b", "/" + "1" * 2000):
        assert canonical_path(bad) is None


def node(node_id: str, path: str, parent: str | None = "p") -> OrgNode:
    return OrgNode(node_id, NodeKind.COUNTY, path.rsplit("/", 1)[1], "x", path, parent)


def test_scope_values() -> None:
    county = OrgScope.subtree(node("a", "/53/5301/530102"))
    assert county.covers("a", "/anything")
    assert county.covers("t", "/53/5301/530102/1")
    assert not county.covers("b", "/53/5301/530103")
    assert county.covers_path("/53/5301/530102")
    assert not county.covers_path("/53/5301/5301021")
    assert county.filter_path == "/53/5301/530102"
    assert OrgScope.everything().covers_path("")
    assert OrgScope.everything().filter_path == "/"
    nothing = OrgScope.nothing()
    assert nothing.empty
    assert not nothing.covers("a", "/53")
    assert nothing.filter_path == ""
    assert OrgScope.subtree(node("d", "/53/../54")).empty
    assert not county.covers_path("")  # an event without an org: whole-tree readers only


def test_a_root_binding_is_the_whole_tree_events_without_an_org_included() -> None:
    """Issue 17 §6: the province-wide analyst sees every event, those without an org too."""
    province = OrgScope.subtree(node("r", "/53", parent=None))
    assert province.whole_tree
    assert province.filter_path == "/"
    assert province.covers_path("")
    assert province.covers_path("/53/5301")


@pytest.fixture
def tree() -> tuple[InMemoryOrgDirectory, OrgNode, OrgNode]:
    d = InMemoryOrgDirectory()
    province = d.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    prefecture = d.create_node(province, NodeKind.PREFECTURE, "530100", "昆明市")
    county_a = d.create_node(prefecture, NodeKind.COUNTY, "530102", "五华区")
    return d, prefecture, county_a


def test_binding_decides_not_primary_membership(
    tree: tuple[InMemoryOrgDirectory, OrgNode, OrgNode],
) -> None:
    d, prefecture, county_a = tree
    person = d.create_person(PersonDraft("a-admin", "测", "试"), [prefecture])
    d.grant_role(person, "org-admin")
    assert resolve_scope(d, person.id).empty  # a member of the prefecture, bound nowhere
    d.set_admin_node(person, county_a)
    scope = resolve_scope(d, person.id)
    assert (scope.root_id, scope.root_path) == (county_a.id, county_a.path)
    assert not scope.covers_node(prefecture)
    d.update_node(county_a, name=county_a.name, disabled=True)
    assert resolve_scope(d, person.id).empty


def test_platform_admin_unknown_and_disabled(
    tree: tuple[InMemoryOrgDirectory, OrgNode, OrgNode],
) -> None:
    d, prefecture, _ = tree
    admin = d.create_person(PersonDraft("p-admin", "测", "试"), [prefecture])
    d.grant_role(admin, "platform-admin")
    assert resolve_scope(d, admin.id).platform
    assert resolve_scope(d, "no-such-person").empty
    assert resolve_scope(d, "").empty
    gone = d.get_person(admin.id)
    assert gone is not None
    d.update_person(gone, draft=PersonDraft("p-admin", "测", "试"), enabled=False)
    assert resolve_scope(d, admin.id).empty
