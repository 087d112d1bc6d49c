"""Issue 16 §2.1: the registry scopes org-admins by their live binding, by node id.

The attack of the issue: an org-admin bound to county A whose primary membership (the token's
``org_path``) is the prefecture applies for, lists and revokes seals of sibling county B.
"""

from __future__ import annotations

import dataclasses

import pytest

from crypto.pki.testing import TEST_USCC
from crypto.seals.registry.errors import SealApplicationInvalid, SealForbidden, SealNotFound
from crypto.seals.registry.model import ORG_ADMIN, OrgUnit, SealRecord
from iam.orgs.codes import uscc_check_char
from tests.unit.crypto.seals.registry.conftest import (
    FINANCE,
    GULOU,
    LOOKALIKE,
    PREFECTURE,
    TAIJIANG,
    World,
    actor,
)

#: Bound to Gulou (county A); primary membership: the prefecture (the token's org_path).
A_ADMIN = actor("a-admin", ORG_ADMIN, org_path=PREFECTURE, bound=GULOU)


def county_seal(w: World, unit: OrgUnit, admin_unit: OrgUnit) -> SealRecord:
    """A seal of ``unit`` applied for by an admin bound there (a division: USCC chars 3-8)."""
    body = "11" + unit.code[:6] + "MB0000001"  # chars 3-8: the county that registered it
    uscc = body + uscc_check_char(body)
    app = w.application(org_node_id=unit.id, org_name=unit.name, uscc=uscc)
    admin = actor(f"admin-{unit.id}", ORG_ADMIN, bound=admin_unit)
    return w.registry.service.apply(admin, app)


def test_binding_not_primary_membership_decides(world: World) -> None:
    w, service = world, world.registry.service
    theirs = county_seal(w, TAIJIANG, TAIJIANG)
    mine = county_seal(w, GULOU, GULOU)
    b_app = w.application(
        org_node_id=TAIJIANG.id, org_name=TAIJIANG.name, uscc=theirs.application.uscc
    )
    with pytest.raises(SealForbidden, match="not in your"):
        service.apply(A_ADMIN, b_app)
    with pytest.raises(SealForbidden, match="not in your"):  # by code or path: the same node
        service.apply(A_ADMIN, dataclasses.replace(b_app, org_node_id=TAIJIANG.code))
    assert [r.id for r in service.list(A_ADMIN)] == [mine.id]
    for attempt in (service.show, service.revoke, service.suspend, service.activate):
        with pytest.raises(SealNotFound):
            attempt(A_ADMIN, theirs.id)
    assert service.show(w.seal_admin, theirs.id).state.value == "applied"


@pytest.mark.parametrize(
    "path",
    [
        f"{GULOU.path}/../350103",
        f"{GULOU.path}/./../350103",
        f"{GULOU.path}//350103",
        f"{PREFECTURE}/350103",
    ],
)
def test_paths_in_a_body_cannot_reach_a_sibling(world: World, path: str) -> None:
    app = world.application(org_node_id="", org_path=path, org_name=TAIJIANG.name)
    with pytest.raises((SealForbidden, SealApplicationInvalid)):
        world.registry.service.apply(A_ADMIN, app)
    assert world.registry.service.list(world.seal_admin) == []


def test_a_string_prefix_is_no_subtree(world: World) -> None:
    app = world.application(org_node_id=LOOKALIKE.id, org_name=LOOKALIKE.name)
    with pytest.raises(SealForbidden, match="not in your"):
        world.registry.service.apply(A_ADMIN, app)


def test_the_named_node_must_exist(world: World) -> None:
    for ref in ("n-nowhere", "350199"):
        with pytest.raises(SealForbidden, match="not in your"):
            world.registry.service.apply(A_ADMIN, world.application(org_node_id=ref))
    missing = world.application(org_node_id="", org_path=f"{GULOU.path}/350199")
    with pytest.raises(SealForbidden):
        world.registry.service.apply(A_ADMIN, missing)


def test_org_name_uscc_and_path_must_be_the_nodes(world: World) -> None:
    service = world.registry.service
    with pytest.raises(SealApplicationInvalid, match="org_name"):
        service.apply(A_ADMIN, world.application(org_name="福州市台江区财政局"))
    other = "91350100M000200Y4"
    with pytest.raises(SealApplicationInvalid, match="uscc"):
        service.apply(A_ADMIN, world.application(uscc=other[:17] + uscc_check_char(other[:17])))
    with pytest.raises(SealApplicationInvalid, match="org_path"):
        service.apply(A_ADMIN, world.application(org_path=f"{TAIJIANG.path}/{TEST_USCC}"))
    record = service.apply(A_ADMIN, world.application(org_node_id="", org_path=FINANCE.path))
    assert (record.application.org_node_id, record.application.org_path) == (
        FINANCE.id,
        FINANCE.path,
    )


def test_an_unbound_org_admin_reaches_nothing(world: World) -> None:
    service = world.registry.service
    mine = county_seal(world, GULOU, GULOU)
    unbound = actor("u-admin", ORG_ADMIN, org_path=GULOU.path)  # the claim alone is no reach
    with pytest.raises(SealForbidden):
        service.apply(unbound, world.application())
    assert service.list(unbound) == []
    with pytest.raises(SealNotFound):
        service.revoke(unbound, mine.id)


def test_a_node_moved_away_takes_its_seals_out_of_reach(world: World) -> None:
    service = world.registry.service
    record = service.apply(A_ADMIN, world.application())
    moved = dataclasses.replace(FINANCE, path=f"{TAIJIANG.path}/{TEST_USCC}")
    world.tree.units[FINANCE.id] = moved  # the live directory now has it under county B
    assert service.list(A_ADMIN) == []
    with pytest.raises(SealNotFound):
        service.suspend(A_ADMIN, record.id)


def test_seals_without_a_node_id_are_for_seal_admins_only(world: World) -> None:
    service = world.registry.service
    record = service.apply(A_ADMIN, world.application())
    legacy = dataclasses.replace(
        record, application=dataclasses.replace(record.application, org_node_id="")
    )
    world.registry.repository.replace(legacy.evolve(), expected_version=record.version)
    assert service.list(A_ADMIN) == []
    assert [r.id for r in service.list(world.seal_admin)] == [record.id]
