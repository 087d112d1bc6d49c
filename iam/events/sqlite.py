"""SQLite cursor store for the event puller: one row per stream, saved in one transaction.

iam may not import audit, so the platform's one SQLite opener (``audit.sql.sqlite.connect``:
folder, busy timeout, the WAL switch and its multi-process open race) is handed in by the
composition root (:func:`anbao.wiring.identity_events.cursor_store`) as a :class:`SqliteConnect`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from iam.events.model import Cursor
from iam.realm.errors import EventCursorCorrupt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keycloak_event_cursor (
    stream TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    seen TEXT NOT NULL
)
"""


class SqliteConnect(Protocol):
    """Opens ``path`` waiting ``timeout`` s on locks; ``wal`` switches the file to write-ahead
    logging, ``autocommit=False`` leaves Python's implicit transactions on."""

    def __call__(
        self, path: str, *, timeout: float, wal: bool = ..., autocommit: bool = ...
    ) -> sqlite3.Connection: ...


class SqliteCursorStore:
    """Cursor rows in a small SQLite file (WAL journal, so a crash keeps the old or new row)."""

    def __init__(self, path: Path | str, connect: SqliteConnect) -> None:
        self._path = str(path)
        self._open = connect
        db = connect(self._path, timeout=10.0)  # switches the file to WAL, once
        try:
            db.execute(_SCHEMA)
        finally:
            db.close()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = self._open(self._path, timeout=10.0, wal=False, autocommit=False)
        try:
            with db:  # one transaction: commit on success, roll back on error
                yield db
        finally:
            db.close()

    def load(self, stream: str) -> Cursor:
        with self._connect() as db:
            row = db.execute(
                "SELECT time_ms, seen FROM keycloak_event_cursor WHERE stream = ?", (stream,)
            ).fetchone()
        if row is None:
            return Cursor()
        try:
            seen = json.loads(row[1])
            return Cursor(int(row[0]), {str(k): int(v) for k, v in dict(seen).items()})
        except (TypeError, ValueError) as exc:
            raise EventCursorCorrupt(f"The cursor of stream '{stream}' cannot be read.") from exc

    def save(self, stream: str, cursor: Cursor) -> None:
        seen = json.dumps(dict(cursor.seen), sort_keys=True)
        with self._connect() as db:
            db.execute(
                "INSERT INTO keycloak_event_cursor (stream, time_ms, seen) VALUES (?, ?, ?) "
                "ON CONFLICT(stream) DO UPDATE SET time_ms = excluded.time_ms, seen = excluded.seen",
                (stream, cursor.time_ms, seen),
            )
