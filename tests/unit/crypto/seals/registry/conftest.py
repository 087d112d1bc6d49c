"""A registry on a real SQLite file with a movable clock, and actors for every role."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from anbao.wiring.seals import SEAL_MIGRATIONS
from audit.sql.engine import create_engine
from crypto.keystore import KekRing
from crypto.pki.testing import TEST_USCC
from crypto.seals.format.testing import tiny_png
from crypto.seals.registry.build import Registry, RegistryConfig, build_registry
from crypto.seals.registry.model import (
    ORG_ADMIN,
    SEAL_ADMIN,
    SEAL_USER,
    Actor,
    Application,
    OrgReach,
    OrgUnit,
)
from crypto.seals.registry.testing import MemoryOrgTree, RecordingAuditTrail
from iam.orgs.model import NodeKind, OrgNode
from iam.orgs.scope import OrgScope

PREFECTURE = "/350000/350100"
GULOU = OrgUnit("n-gulou", "350102", "county", "鼓楼区", f"{PREFECTURE}/350102")
TAIJIANG = OrgUnit("n-taijiang", "350103", "county", "台江区", f"{PREFECTURE}/350103")
#: A sibling whose path extends Gulou's as a string ("/…/350102" is a prefix of "/…/3501021").
LOOKALIKE = OrgUnit("n-lookalike", "3501021", "county", "鼓楼区", f"{PREFECTURE}/3501021")
FINANCE = OrgUnit(
    "n-finance", TEST_USCC, "department", "福州市鼓楼区财政局", f"{GULOU.path}/{TEST_USCC}"
)
UNITS = (GULOU, TAIJIANG, LOOKALIKE, FINANCE)


def scope(unit: OrgUnit) -> OrgReach:
    """The live scope the identity authority resolves for a person bound to ``unit``."""
    node = OrgNode(unit.id, NodeKind(unit.kind), unit.code, unit.name, unit.path, None)
    return OrgScope.subtree(node)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclasses.dataclass
class World:
    registry: Registry
    audit: RecordingAuditTrail
    clock: Clock
    tree: MemoryOrgTree
    org_admin: Actor
    other_org_admin: Actor
    seal_admin: Actor
    seal_admin2: Actor
    holder: Actor
    stranger: Actor

    def application(self, **changes: object) -> Application:
        base = Application(
            org_node_id=FINANCE.id,
            org_path="",
            org_name="福州市鼓楼区财政局",
            uscc=TEST_USCC,
            name="福州市鼓楼区财政局公章",
            holders=("alice",),
            picture_type="PNG",
            picture=tiny_png(),
            width_mm=40,
            height_mm=40,
            valid_days=365,
        )
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def actor(
    subject: str,
    *roles: str,
    org_path: str = "",
    stepped_up: bool = False,
    bound: OrgUnit | None = None,
) -> Actor:
    """An actor; ``org_path`` is the token's claim (primary membership), ``bound`` its binding."""
    reach = scope(bound) if bound is not None else OrgScope.nothing()
    return Actor(subject, subject, frozenset(roles), org_path, stepped_up, scope=reach)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    audit = RecordingAuditTrail()
    config = RegistryConfig(
        kek=KekRing.generate_entry("k1"),
        crl_url="http://anbao.test/seals/ca/crl",
    )
    tree = MemoryOrgTree(*UNITS)
    engine = SEAL_MIGRATIONS.ready(
        create_engine(f"sqlite:///{tmp_path / 'seals.sqlite3'}"), migrate=True
    )
    registry = build_registry(config, engine, audit, clock, tree)
    try:
        yield World(
            registry,
            audit,
            clock,
            tree,
            org_admin=actor("gulou-admin", ORG_ADMIN, org_path=GULOU.path, bound=GULOU),
            other_org_admin=actor(
                "taijiang-admin", ORG_ADMIN, org_path=TAIJIANG.path, bound=TAIJIANG
            ),
            seal_admin=actor("sa1", SEAL_ADMIN),
            seal_admin2=actor("sa2", SEAL_ADMIN, ORG_ADMIN, org_path=GULOU.path, bound=GULOU),
            holder=actor("alice", SEAL_USER, org_path=FINANCE.path, stepped_up=True),
            stranger=actor("bob", SEAL_USER, org_path=FINANCE.path, stepped_up=True),
        )
    finally:
        registry.close()
