"""The scheduled engine's checkpoints in the cluster database (PostgreSQL when clustered).

The scheduled detections run once per deployment, on whichever node holds the job's lease; when
the holder dies the job moves. With the checkpoint in a file of the old node, the new holder
would start again from its look-back: a gap longer than that would never be searched. Kept in the
cluster database, the new holder resumes where the old one stopped (with the engine's overlap).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from audit.sql.engine import MigratedOnFirstUse, Migrations
from siem.errors import SiemError

VERSION_TABLE: Final = "siem_checkpoints_alembic_version"
metadata = sa.MetaData()
checkpoints = sa.Table(
    "siem_checkpoints",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
)


class CheckpointStoreUnavailable(SiemError):
    """The cluster database did not answer."""

    code = "checkpoint_store_unavailable"


MIGRATIONS: Final = Migrations(
    Path(__file__).parent / "alembic",
    VERSION_TABLE,
    name="scheduled-detection checkpoint store",
    error=CheckpointStoreUnavailable,
)


_UNAVAILABLE: Final = "The checkpoint database does not answer."


class SqlCheckpoints:
    """:class:`siem.ports.CheckpointStore` in a SQL table, one row per name."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = MigratedOnFirstUse(engine, MIGRATIONS)

    def load(self, name: str) -> Mapping[str, Any] | None:
        stmt = sa.select(checkpoints.c.state).where(checkpoints.c.name == name)
        text = self._engine.run(lambda conn: conn.execute(stmt).scalar(), _UNAVAILABLE)
        value = json.loads(text) if text is not None else None
        return value if isinstance(value, dict) else None

    def save(self, name: str, state: Mapping[str, Any]) -> None:
        text = json.dumps(dict(state))

        def upsert(conn: sa.Connection) -> None:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(checkpoints).values(name=name, state=text)
            conn.execute(
                insert.on_conflict_do_update(index_elements=["name"], set_={"state": text})
            )

        self._engine.run(upsert, _UNAVAILABLE)
