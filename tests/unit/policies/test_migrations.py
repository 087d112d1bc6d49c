"""The compliance store's Alembic migrations: idempotent, equal to the table metadata, reversible."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from policies import migrations
from policies.sqlite import SqlRunStore, create_engine, metadata


def test_upgrade_matches_metadata_and_downgrades(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'c.sqlite3'}")
    assert migrations.current(engine) is None
    store = SqlRunStore(engine)
    assert migrations.current(engine) is None  # nothing happens until the store is used
    assert store.runs() == []  # migrates on first use
    assert SqlRunStore(engine).waivers() == []  # and again: idempotent
    assert migrations.current(engine) == migrations.head()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in diff if d[0] != "remove_table"] == []
    migrations.downgrade(engine, "base")
    assert "compliance_runs" not in sa.inspect(engine).get_table_names()
    engine.dispose()
