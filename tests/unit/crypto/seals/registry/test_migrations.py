"""Alembic migrations: idempotent upgrade, schema equal to the table metadata, downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crypto.seals.registry import migrations
from crypto.seals.registry.errors import SealDatabaseError
from crypto.seals.registry.sql import create_engine
from crypto.seals.registry.tables import metadata


def test_upgrade_matches_metadata_and_downgrades(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'r.sqlite3'}")
    with pytest.raises(SealDatabaseError, match="anbao seal db upgrade"):
        migrations.require_current(engine)
    migrations.upgrade(engine)
    migrations.upgrade(engine)  # idempotent
    assert migrations.current(engine) == migrations.head()
    migrations.require_current(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in diff if d[0] != "remove_table"] == []
    migrations.downgrade(engine, "base")
    assert "seal_registry_seals" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_bad_url() -> None:
    with pytest.raises(SealDatabaseError):
        create_engine("nosuchdb://x")
