"""Run the registry's Alembic migrations programmatically (start-up, ``anbao seal db upgrade``).

The scripts live in the package (``alembic/``), so an installed Anbao migrates its own schema
without an ``alembic.ini``; a test compares the migrated schema with ``tables.metadata``.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from crypto.seals.registry.errors import SealDatabaseError

_SCRIPTS = Path(__file__).parent / "alembic"
VERSION_TABLE = "seal_registry_alembic_version"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision shipped with this version."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise SealDatabaseError("the seal registry ships no migrations")
    return revision


def current(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: not migrated)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (idempotent)."""
    try:
        with engine.begin() as connection:
            command.upgrade(_config(connection), revision)
    except sa.exc.SQLAlchemyError as exc:
        raise SealDatabaseError("the seal registry database could not be migrated") from exc


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate down to ``revision`` ("base" drops everything)."""
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def require_current(engine: sa.Engine) -> None:
    """Refuse to serve from a database that is not at the shipped head."""
    found = current(engine)
    if found != head():
        raise SealDatabaseError(
            f"seal registry schema is at {found or 'nothing'}, expected {head()}: "
            "run 'anbao seal db upgrade'"
        )
