"""SQLAlchemy engines and Alembic migrations for every SQL-backed store, one way.

A store ships its Alembic scripts in its package (no ``alembic.ini``) with its own version table,
so several stores can share one database; :class:`Migrations` runs them programmatically on a
connection the scripts' ``env.py`` reads from ``config.attributes["connection"]``. Failures
are raised as the store's own error (``error``), never as SQLAlchemy's text.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from audit.sql.sqlite import MEMORY

T = TypeVar("T")


def create_engine(url: str, error: Callable[[str], Exception] = ValueError) -> sa.Engine:
    """``sqlite:///path`` (folder created, 30 s busy timeout) or ``postgresql://…`` (psycopg 3),
    with stale pooled connections replaced (``pool_pre_ping``); an unusable URL is ``error``."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    options: dict[str, object] = {"pool_pre_ping": True}
    if url.startswith("sqlite:///") and url != f"sqlite:///{MEMORY}":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30.0}
    try:
        return sa.create_engine(url, **options)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise error("not a usable database URL") from exc


#: Alembic's ``context`` and the loading of ``env.py`` are process-wide: two stores migrating
#: at once in two threads of one process would trip over each other (seen as ``KeyError:
#: 'script'``), so one migration runs at a time per process.
_ALEMBIC = threading.Lock()


@dataclasses.dataclass(frozen=True, slots=True)
class Migrations:
    """One store's Alembic scripts: ``name`` and ``error`` word what goes wrong, ``upgrade_hint``
    tells an operator how to migrate a database that is behind."""

    scripts: Path
    version_table: str
    name: str
    error: Callable[[str], Exception]
    upgrade_hint: str = ""

    def _config(self, connection: sa.Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.scripts))
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        """The newest revision shipped with this version."""
        revision = ScriptDirectory.from_config(self._config()).get_current_head()
        if revision is None:
            raise self.error(f"the {self.name} ships no migrations")
        return revision

    def current(self, engine: sa.Engine) -> str | None:
        """The revision the database is at (None: not migrated)."""
        with engine.connect() as connection:
            opts = {"version_table": self.version_table}
            return MigrationContext.configure(connection, opts=opts).get_current_revision()

    def upgrade(self, engine: sa.Engine, revision: str = "head") -> None:
        """Migrate to ``revision`` (idempotent), in one transaction. On PostgreSQL the
        transaction first takes an advisory lock named by the version table, so nodes that
        start together migrate one after the other instead of racing to create the tables."""
        try:
            with _ALEMBIC, engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"),
                        {"name": self.version_table},
                    )
                command.upgrade(self._config(connection), revision)
        except sa.exc.SQLAlchemyError as exc:
            raise self.error(f"the {self.name} database could not be migrated") from exc

    def downgrade(self, engine: sa.Engine, revision: str) -> None:
        """Migrate down to ``revision`` ("base" drops everything)."""
        with _ALEMBIC, engine.begin() as connection:
            command.downgrade(self._config(connection), revision)

    def require_current(self, engine: sa.Engine) -> None:
        """Refuse to serve from a database that is not at the shipped head."""
        found, head = self.current(engine), self.head()
        if found != head:
            hint = f": {self.upgrade_hint}" if self.upgrade_hint else ""
            raise self.error(
                f"{self.name} schema is at {found or 'nothing'}, expected {head}{hint}"
            )

    def ready(self, engine: sa.Engine, *, migrate: bool) -> sa.Engine:
        """``engine`` at the shipped head: migrated when ``migrate``, else checked."""
        if migrate:
            self.upgrade(engine)
        else:
            self.require_current(engine)
        return engine


class MigratedOnFirstUse:
    """An engine migrated by ``migrations`` the first time a store asks for it (building the
    app writes nothing; a database that cannot be migrated fails the request, as ``error``)."""

    def __init__(self, engine: sa.Engine, migrations: Migrations) -> None:
        self.engine = engine
        self._migrations = migrations
        self._done = False
        self._lock = threading.Lock()

    def __call__(self) -> sa.Engine:
        if not self._done:
            with self._lock:
                if not self._done:
                    self._migrations.upgrade(self.engine)
                    self._done = True
        return self.engine

    def run(self, work: Callable[[sa.Connection], T], unavailable: str) -> T:
        """``work`` in one transaction on the migrated engine; a database error is the store's
        own error (the migrations' ``error``) saying ``unavailable``, never SQLAlchemy's text."""
        try:
            with self().begin() as connection:
                return work(connection)
        except sa.exc.SQLAlchemyError as exc:
            raise self._migrations.error(unavailable) from exc


def run_migrations(metadata: sa.MetaData, version_table: str, entry: str) -> None:
    """The whole body of every store's Alembic ``env.py``: migrate the connection that
    :class:`Migrations` hands over (never a URL of its own), in the store's own version table.
    ``entry`` names how the store is meant to be migrated, for anyone who runs ``alembic``."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(f"run through {entry}")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
