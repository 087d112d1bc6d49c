"""Run the compliance store's Alembic migrations programmatically (the seal registry's pattern).

The scripts live in the package (``alembic/``), so an installed Anbao migrates its own schema
without an ``alembic.ini``; a test compares the migrated schema with ``policies.runs.store.metadata``.
Runs and issued reports are evidence kept for years: their schema changes only by migration.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from policies.errors import StoreUnavailable
from policies.runs.store import VERSION_TABLE

_SCRIPTS = Path(__file__).parent / "alembic"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise StoreUnavailable("the compliance store ships no migrations")
    return revision


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (idempotent)."""
    try:
        with engine.begin() as connection:
            command.upgrade(_config(connection), revision)
    except sa.exc.SQLAlchemyError as exc:
        raise StoreUnavailable("the compliance database could not be migrated") from exc


def downgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)
