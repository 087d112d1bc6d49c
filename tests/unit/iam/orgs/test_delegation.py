"""The pure rules of delegated administration (the HTTP matrix runs against real Keycloak)."""

from __future__ import annotations

import pytest

from iam.orgs.delegation import Authority
from iam.orgs.errors import DelegationDenied, InvalidOrgInput, OrgNotFound
from iam.orgs.model import NodeKind, OrgNode, Person

PROVINCE = OrgNode("p", NodeKind.PROVINCE, "530000", "省", "/530000", None)
COUNTY_A = OrgNode("a", NodeKind.COUNTY, "530102", "A", "/530000/530100/530102", "f")
COUNTY_A2 = OrgNode("a2", NodeKind.COUNTY, "5301021", "x", "/530000/530100/5301021", "f")
TOWN_A = OrgNode("ta", NodeKind.TOWNSHIP, "530102001", "t", COUNTY_A.path + "/530102001", "a")
COUNTY_B = OrgNode("b", NodeKind.COUNTY, "530103", "B", "/530000/530100/530103", "f")


def person(pid: str, *roles: str, admin_node: str | None = None) -> Person:
    return Person(pid, pid, "f", "g", "", True, {}, ("ta",), frozenset(roles), admin_node)


ORG_ADMIN = Authority.of(person("oa", "org-admin", "seal-user", admin_node="a"), COUNTY_A)
PLATFORM = Authority.of(person("pa", "platform-admin"), None)


def test_subtree_is_a_path_prefix_not_a_string_prefix() -> None:
    assert ORG_ADMIN.sees(TOWN_A)
    assert not ORG_ADMIN.sees(COUNTY_A2)  # "/…/530102" is a string prefix of "/…/5301021"
    with pytest.raises(OrgNotFound):
        ORG_ADMIN.require_visible(COUNTY_B)


def test_own_root_is_visible_but_not_manageable() -> None:
    assert ORG_ADMIN.require_visible(COUNTY_A) is COUNTY_A
    with pytest.raises(DelegationDenied):
        ORG_ADMIN.require_manageable(COUNTY_A)
    with pytest.raises(DelegationDenied):
        ORG_ADMIN.require_parent(None)


@pytest.mark.parametrize(
    "actor",
    [
        None,
        person("u"),
        person("u", "org-admin"),  # org-admin without a binding administers nothing
        Person("u", "u", "f", "g", "", False, {}, (), frozenset({"platform-admin"}), None),
    ],
)
def test_no_authority_without_a_bound_admin_role(actor: Person | None) -> None:
    with pytest.raises(DelegationDenied):
        Authority.of(actor, None)


def test_grants_no_higher_than_own_and_never_to_self() -> None:
    target = person("t")
    ORG_ADMIN.require_grant("seal-user", target, None)
    ORG_ADMIN.require_grant("org-admin", target, TOWN_A)
    for role in ("platform-admin", "auditor"):
        with pytest.raises(DelegationDenied):
            ORG_ADMIN.require_grant(role, target, None)
    with pytest.raises(OrgNotFound):
        ORG_ADMIN.require_grant("org-admin", target, COUNTY_B)
    with pytest.raises(DelegationDenied):
        ORG_ADMIN.require_grant("seal-user", person("oa"), None)
    with pytest.raises(DelegationDenied):
        PLATFORM.require_grant("seal-user", person("pa"), None)
    with pytest.raises(InvalidOrgInput):
        PLATFORM.require_grant("admin", target, None)


def test_people_with_roles_above_or_outside_bindings_are_not_manageable() -> None:
    with pytest.raises(DelegationDenied):
        ORG_ADMIN.require_manageable_person(person("x", "auditor"), [TOWN_A], None)
    with pytest.raises(DelegationDenied):
        ORG_ADMIN.require_manageable_person(
            person("y", "org-admin", admin_node="b"), [TOWN_A], COUNTY_B
        )
    with pytest.raises(OrgNotFound):
        ORG_ADMIN.require_visible_person(person("z"), [TOWN_A, COUNTY_B])
    assert ORG_ADMIN.require_manageable_person(person("w", "seal-user"), [TOWN_A], None)
