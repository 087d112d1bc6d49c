"""Alembic migrations: idempotent upgrade, schema equal to the table metadata, downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from anbao.settings import Settings
from anbao.wiring.seals import SEAL_MIGRATIONS, seal_database
from audit.sql.engine import create_engine
from crypto.seals.registry.errors import SealDatabaseError
from crypto.seals.registry.tables import metadata


def test_upgrade_matches_metadata_and_downgrades(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'nested' / 'r.sqlite3'}")
    with pytest.raises(SealDatabaseError, match="anbao seal db upgrade"):
        SEAL_MIGRATIONS.require_current(engine)
    SEAL_MIGRATIONS.upgrade(engine)
    SEAL_MIGRATIONS.upgrade(engine)  # idempotent
    assert SEAL_MIGRATIONS.current(engine) == SEAL_MIGRATIONS.head()
    SEAL_MIGRATIONS.require_current(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in diff if d[0] != "remove_table"] == []
    SEAL_MIGRATIONS.downgrade(engine, "base")
    assert "seal_registry_seals" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_bad_url() -> None:
    settings = Settings.load({"ANBAO_SEALS_DATABASE_URL": "nosuchdb://x"})
    with pytest.raises(SealDatabaseError, match=r"seals\.database_url is not a usable"):
        seal_database(settings)
