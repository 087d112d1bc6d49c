"""The seal registry's SQL adapters and migrations on the real PostgreSQL (production database)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from anbao.wiring.seals import SEAL_MIGRATIONS
from audit.sql.engine import create_engine
from crypto.keystore import KekRing
from crypto.pki.testing import TEST_USCC
from crypto.seals.format.testing import tiny_png
from crypto.seals.registry.build import RegistryConfig, build_registry
from crypto.seals.registry.errors import SealStateConflict
from crypto.seals.registry.model import (
    ORG_ADMIN,
    SEAL_ADMIN,
    Actor,
    Application,
    OrgUnit,
    SealState,
)
from crypto.seals.registry.tables import metadata
from crypto.seals.registry.testing import MemoryOrgTree, RecordingAuditTrail
from iam.orgs.scope import OrgScope
from tests.integration.conftest import Server

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture
def database(postgres: Server) -> Iterator[str]:
    name = f"anbao_seals_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated(url: str) -> sa.Engine:
    return SEAL_MIGRATIONS.ready(create_engine(url), migrate=True)


def test_migrations_on_postgres(database: str) -> None:
    engine = create_engine(database)
    try:
        SEAL_MIGRATIONS.upgrade(engine)
        SEAL_MIGRATIONS.upgrade(engine)  # idempotent
        assert SEAL_MIGRATIONS.current(engine) == SEAL_MIGRATIONS.head()
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
        assert [d for d in diff if d[0] != "remove_table"] == []
        SEAL_MIGRATIONS.downgrade(engine, "base")
        assert not [
            t for t in sa.inspect(engine).get_table_names() if t.startswith("seal_registry_s")
        ]
    finally:
        engine.dispose()


def test_concurrent_approvals_one_wins(database: str) -> None:
    audit = RecordingAuditTrail()
    config = RegistryConfig(kek=KekRing.generate_entry("k1"))
    unit = OrgUnit("n-fin", TEST_USCC, "department", "昆明市财政局", f"/53/5301/{TEST_USCC}")
    registry = build_registry(config, migrated(database), audit, lambda: NOW, MemoryOrgTree(unit))
    try:
        applicant = Actor("oa", "oa", frozenset({ORG_ADMIN}), "", scope=OrgScope.everything())
        record = registry.service.apply(
            applicant,
            Application(
                org_node_id=unit.id,
                org_path="",
                org_name="昆明市财政局",
                uscc=TEST_USCC,
                name="昆明市财政局公章",
                holders=("h",),
                picture_type="PNG",
                picture=tiny_png(),
                width_mm=40,
                height_mm=40,
            ),
        )
        outcomes: list[str] = []
        barrier = threading.Barrier(4)

        def approve(n: int) -> None:
            admin = Actor(f"sa{n}", f"sa{n}", frozenset({SEAL_ADMIN}), "")
            barrier.wait()
            try:
                registry.service.approve(admin, record.id)
                outcomes.append("won")
            except SealStateConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=approve, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["conflict", "conflict", "conflict", "won"]
        stored = registry.repository.get(record.id)
        assert stored is not None
        assert stored.state is SealState.APPROVED
        assert stored.version == record.version + 1
    finally:
        registry.close()


def test_concurrent_revocations_all_reach_the_crl(database: str) -> None:
    config = RegistryConfig(kek=KekRing.generate_entry("k1"))
    registries = [
        build_registry(config, migrated(database), RecordingAuditTrail(), lambda: NOW)
        for _ in range(2)
    ]
    try:
        ca = registries[0].ca
        serials = []
        for _ in range(6):
            ref = registries[0].keys.generate("holder")
            cert = ca.issue_holder(
                organization="昆明市财政局", uscc=TEST_USCC, public_key=ref.public_key, now=NOW
            )
            serials.append(cert.serial_number)
        barrier = threading.Barrier(len(serials))
        errors: list[BaseException] = []

        def revoke(index: int) -> None:
            barrier.wait()
            try:  # two processes' worth of CA objects, sharing the database
                registries[index % 2].ca.revoke(serials[index], now=NOW)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=revoke, args=(i,)) for i in range(len(serials))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        listed = {r.serial_number for r in ca.crl(NOW).revoked}
        assert set(serials) <= listed
    finally:
        for registry in registries:
            registry.close()
