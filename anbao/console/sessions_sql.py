"""The console's sessions in the cluster database: every node sees every session.

:class:`anbao.console.sessions.SessionRows` on SQLAlchemy Core (PostgreSQL when clustered). The
rows hold only what the SQLite file holds: the SM3 of the id, the SM4-GCM sealed session and its
expiry; the sealing key stays a file on each node. The schema is migrated by the package's Alembic
scripts (``alembic/``, own version table) the first time a session is read or written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from audit.sql.engine import MigratedOnFirstUse, Migrations

VERSION_TABLE: Final = "console_alembic_version"
metadata = sa.MetaData()


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("key", sa.LargeBinary(32), primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False, index=True),
    )


sessions = _table("console_sessions")
logins = _table("console_logins")


class ConsoleStoreUnavailable(RuntimeError):
    """The cluster database did not answer (the request fails; details in the log)."""


MIGRATIONS: Final = Migrations(
    Path(__file__).parent / "alembic",
    VERSION_TABLE,
    name="console session store",
    error=ConsoleStoreUnavailable,
)


class SqlSessionRows:
    """Sealed sessions and pending logins in two tables of a SQL database."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = MigratedOnFirstUse(engine, MIGRATIONS)

    def _run(self, work: Callable[[sa.Connection], Any]) -> Any:
        return self._engine.run(work, "the console session database does not answer")

    @staticmethod
    def _upsert(
        conn: sa.Connection, table: sa.Table, key: bytes, sealed: bytes, expires_at: float
    ) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(table).values(key=key, sealed=sealed, expires_at=expires_at)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["key"], set_={"sealed": sealed, "expires_at": expires_at}
            )
        )

    def put_session(self, key: bytes, sealed: bytes, expires_at: float) -> None:
        self._run(lambda conn: self._upsert(conn, sessions, key, sealed, expires_at))

    def session(self, key: bytes) -> tuple[bytes, float] | None:
        stmt = sa.select(sessions.c.sealed, sessions.c.expires_at).where(sessions.c.key == key)
        row = self._run(lambda conn: conn.execute(stmt).first())
        return None if row is None else (bytes(row[0]), float(row[1]))

    def delete_session(self, key: bytes) -> None:
        self._run(lambda conn: conn.execute(sa.delete(sessions).where(sessions.c.key == key)))

    def put_login(self, key: bytes, sealed: bytes, expires_at: float, *, now: float) -> None:
        def work(conn: sa.Connection) -> None:
            conn.execute(sa.delete(logins).where(logins.c.expires_at <= now))
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
            self._upsert(conn, logins, key, sealed, expires_at)

        self._run(work)

    def take_login(self, key: bytes) -> tuple[bytes, float] | None:
        stmt = (
            sa.delete(logins)
            .where(logins.c.key == key)
            .returning(logins.c.sealed, logins.c.expires_at)
        )
        row = self._run(lambda conn: conn.execute(stmt).first())
        return None if row is None else (bytes(row[0]), float(row[1]))

    def close(self) -> None:
        """Nothing to close: the engine is the process's (one pool per cluster database)."""
