"""Saved searches on SQLAlchemy Core: the clustered deployment's store (PostgreSQL).

Same contract as :class:`audit.search.saved.SqliteSavedSearches`: several Anbao nodes behind a
load balancer share one table, so a search saved through one node is listed by every other.
The schema is migrated by the package's Alembic scripts (``alembic/``, own version table) the
first time the store is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from audit.errors import AuditStoreUnavailable
from audit.model import format_timestamp
from audit.search.model import InvalidSearch, SavedSearchNotFound
from audit.search.saved import MAX_PER_USER, SavedSearch
from audit.sql.engine import MigratedOnFirstUse, Migrations

VERSION_TABLE: Final = "saved_searches_alembic_version"
metadata = sa.MetaData()
saved_searches = sa.Table(
    "saved_searches",
    metadata,
    sa.Column("owner", sa.String(255), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("q", sa.Text, nullable=False),
    sa.Column("time_from", sa.Text),
    sa.Column("time_to", sa.Text),
    sa.Column("sort", sa.Text),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("updated", sa.String(40), nullable=False),
)
_COLUMNS: Final = [saved_searches.c[f.name] for f in dataclasses.fields(SavedSearch)]

MIGRATIONS: Final = Migrations(
    Path(__file__).parent / "alembic",
    VERSION_TABLE,
    name="saved-search store",
    error=AuditStoreUnavailable,
)


class SqlSavedSearches:
    """:class:`audit.search.saved.SavedSearches` in a SQL database (PostgreSQL when clustered)."""

    def __init__(self, engine: sa.Engine, *, clock: Callable[[], dt.datetime]) -> None:
        self._engine = MigratedOnFirstUse(engine, MIGRATIONS)
        self._clock = clock

    def _run(self, work: Callable[[sa.Connection], Any]) -> Any:
        return self._engine.run(work, "The saved-search database does not answer.")

    def list(self, owner: str) -> list[SavedSearch]:
        stmt = (
            sa.select(*_COLUMNS)
            .where(saved_searches.c.owner == owner)
            .order_by(saved_searches.c.name, saved_searches.c.id)
        )
        rows = self._run(lambda conn: conn.execute(stmt).all())
        return [SavedSearch(*row) for row in rows]

    def get(self, owner: str, search_id: str) -> SavedSearch:
        stmt = sa.select(*_COLUMNS).where(
            saved_searches.c.owner == owner, saved_searches.c.id == search_id
        )
        row = self._run(lambda conn: conn.execute(stmt).first())
        if row is None:
            raise SavedSearchNotFound("No saved search with this id belongs to you.")
        return SavedSearch(*row)

    def put(self, search: SavedSearch) -> SavedSearch:
        now = format_timestamp(self._clock())

        def work(conn: sa.Connection) -> SavedSearch:
            mine = saved_searches.c.owner == search.owner
            created = conn.execute(
                sa.select(saved_searches.c.created).where(mine, saved_searches.c.id == search.id)
            ).scalar()
            if created is None:
                count = conn.execute(sa.select(sa.func.count()).where(mine)).scalar_one()
                if count >= MAX_PER_USER:
                    raise InvalidSearch(f"At most {MAX_PER_USER} saved searches per user.")
            stored = dataclasses.replace(search, created=created or now, updated=now)
            values = dataclasses.asdict(stored)
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(saved_searches).values(**values)
            # A concurrent save of the same id (another node) keeps the first ``created``.
            changed = {k: v for k, v in values.items() if k not in ("owner", "id", "created")}
            conn.execute(insert.on_conflict_do_update(index_elements=["owner", "id"], set_=changed))
            return stored

        result: SavedSearch = self._run(work)
        return result

    def delete(self, owner: str, search_id: str) -> None:
        stmt = sa.delete(saved_searches).where(
            saved_searches.c.owner == owner, saved_searches.c.id == search_id
        )
        if self._run(lambda conn: conn.execute(stmt).rowcount) != 1:
            raise SavedSearchNotFound("No saved search with this id belongs to you.")

    def close(self) -> None:
        """Nothing to close: the engine is the process's (one pool per cluster database)."""
