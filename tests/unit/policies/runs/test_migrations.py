"""The compliance store's Alembic migrations: idempotent, equal to the table metadata, reversible."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from audit.sql.engine import create_engine
from policies.model import WaiverState
from policies.runs.migrations import MIGRATIONS
from policies.runs.store import SqlRunStore, metadata


def test_upgrade_matches_metadata_and_downgrades(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'c.sqlite3'}")
    assert MIGRATIONS.current(engine) is None
    store = SqlRunStore(engine)
    assert MIGRATIONS.current(engine) is None  # nothing happens until the store is used
    assert store.runs() == []  # migrates on first use
    assert SqlRunStore(engine).waivers() == []  # and again: idempotent
    assert MIGRATIONS.current(engine) == MIGRATIONS.head()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in diff if d[0] != "remove_table"] == []
    MIGRATIONS.downgrade(engine, "base")
    assert "compliance_runs" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_old_waivers_become_pending_requests_keeping_their_typed_approver(tmp_path: Path) -> None:
    """Migration 0002: a free-text approval proves no second person; the waiver waits for one."""
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    MIGRATIONS.upgrade(engine, "0001")
    old = {"id": "w1", "control_id": "L3-CES1-02", "justification": "gateway",
           "approver": "zhao (typed)", "created_at": "2026-11-01T00:00:00+00:00",
           "expires_at": "2099-01-01T00:00:00+00:00", "created_by": "wang"}  # fmt: skip
    table = sa.table("compliance_waivers", sa.column("id"), sa.column("control_id"),
                     sa.column("body"))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(table).values(id="w1", control_id="L3-CES1-02",
                                             body=json.dumps(old)))  # fmt: skip
    [waiver] = SqlRunStore(engine).waivers()  # migrates to head
    assert waiver.state is WaiverState.PENDING
    assert (waiver.requested_by, waiver.legacy_approver, waiver.decided_by) == (
        "wang",
        "zhao (typed)",
        "",
    )
    assert not waiver.active(datetime(2027, 1, 1, tzinfo=UTC))
    approved = waiver.evolve(state=WaiverState.APPROVED, decided_by="li",
                             decided_at=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    SqlRunStore(engine).decide_waiver(approved)
    MIGRATIONS.downgrade(engine, "0001")
    with engine.connect() as conn:
        [body] = conn.execute(sa.select(table.c.body)).scalars().all()
    assert json.loads(body)["approver"] == "li"  # the verified decider, as the old code reads it
    engine.dispose()
