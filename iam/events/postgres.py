"""PostgreSQL cursor store for the event puller: the cursor every node of a cluster reads.

Why in PostgreSQL: the pull is a singleton job of the deployment, and the node that holds it
may die. The next holder (another node) must go on from where the last pull stopped, so the
position cannot live only in the puller's own spool. One row per stream, written in one
transaction (a crash leaves the old or the new cursor, never a mix); same rows as the embedded
store (:mod:`iam.events.sqlite`).

iam opens no database itself: the composition root hands in the cluster's SQLAlchemy engine and
runs this package's Alembic scripts (:data:`SCRIPTS`, own version table :data:`VERSION_TABLE`)
with the shared runner before the store is used (``anbao.wiring.identity_events``).
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from iam.events.model import Cursor
from iam.realm.errors import EventCursorCorrupt, EventCursorUnavailable

SCRIPTS = Path(__file__).parent / "alembic"
VERSION_TABLE = "keycloak_event_cursor_alembic_version"

metadata = sa.MetaData()

cursors = sa.Table(
    "keycloak_event_cursor",
    metadata,
    sa.Column("stream", sa.String(256), primary_key=True),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("seen", sa.Text, nullable=False),
)

_SAVE = sa.text(
    "INSERT INTO keycloak_event_cursor (stream, time_ms, seen) VALUES (:stream, :time_ms, :seen) "
    "ON CONFLICT (stream) DO UPDATE SET time_ms = excluded.time_ms, seen = excluded.seen"
)


class PostgresCursorStore:
    """:class:`iam.events.ports.CursorStore` on a (migrated) PostgreSQL engine; ``prefix``
    names the realm, so several realms' pulls keep their cursors apart."""

    def __init__(self, engine: sa.Engine, *, prefix: str = "") -> None:
        self._engine = engine
        self._prefix = prefix

    def load(self, stream: str) -> Cursor:
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    sa.select(cursors.c.time_ms, cursors.c.seen).where(
                        cursors.c.stream == self._prefix + stream
                    )
                ).first()
        except sa.exc.SQLAlchemyError as exc:
            raise EventCursorUnavailable("The event cursors cannot be read.") from exc
        if row is None:
            return Cursor()
        try:
            seen = json.loads(row[1])
            return Cursor(int(row[0]), {str(k): int(v) for k, v in dict(seen).items()})
        except (TypeError, ValueError) as exc:
            raise EventCursorCorrupt(f"The cursor of stream '{stream}' cannot be read.") from exc

    def save(self, stream: str, cursor: Cursor) -> None:
        seen = json.dumps(dict(cursor.seen), sort_keys=True)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    _SAVE,
                    {"stream": self._prefix + stream, "time_ms": cursor.time_ms, "seen": seen},
                )
        except sa.exc.SQLAlchemyError as exc:
            raise EventCursorUnavailable("The event cursors cannot be written.") from exc
