"""A registry on a real SQLite file with a movable clock, and actors for every role."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto.keystore import KekRing
from crypto.pki.testing import TEST_USCC
from crypto.seal.testing import tiny_png
from crypto.seal_registry.build import Registry, RegistryConfig, build_registry
from crypto.seal_registry.model import ORG_ADMIN, SEAL_ADMIN, SEAL_USER, Actor, Application
from crypto.seal_registry.testing import RecordingAuditTrail


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
    org_admin: Actor
    other_org_admin: Actor
    seal_admin: Actor
    seal_admin2: Actor
    holder: Actor
    stranger: Actor

    def application(self, **changes: object) -> Application:
        base = Application(
            org_path="/fj/fz/gulou/finance",
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


def actor(subject: str, *roles: str, org_path: str = "", stepped_up: bool = False) -> Actor:
    return Actor(subject, subject, frozenset(roles), org_path, stepped_up)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    audit = RecordingAuditTrail()
    config = RegistryConfig(
        database_url=f"sqlite:///{tmp_path / 'seals.sqlite3'}",
        kek=KekRing.generate_entry("k1"),
        crl_url="http://anbao.test/seals/ca/crl",
    )
    registry = build_registry(config, audit, clock)
    try:
        yield World(
            registry,
            audit,
            clock,
            org_admin=actor("gulou-admin", ORG_ADMIN, org_path="/fj/fz/gulou"),
            other_org_admin=actor("taijiang-admin", ORG_ADMIN, org_path="/fj/fz/taijiang"),
            seal_admin=actor("sa1", SEAL_ADMIN),
            seal_admin2=actor("sa2", SEAL_ADMIN, ORG_ADMIN, org_path="/fj/fz/gulou"),
            holder=actor("alice", SEAL_USER, org_path="/fj/fz/gulou/finance", stepped_up=True),
            stranger=actor("bob", SEAL_USER, org_path="/fj/fz/gulou/finance", stepped_up=True),
        )
    finally:
        registry.close()
