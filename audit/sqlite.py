"""The embedded audit store: one SQLite file (WAL) with FTS5, the single-machine default.

Documents are kept verbatim (canonical JSON text) so tamper evidence hashes what is stored;
fields are reached with ``json_extract`` and free text through the ``events_words`` FTS5 table
that :func:`audit.search_sqlite.ensure_schema` adds (kept in step by triggers). ``event_id`` is the primary key: writes are
idempotent, so the pipeline's at-least-once delivery stores each event exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from audit.errors import AuditStoreUnavailable
from audit.model import AuditEvent, format_timestamp
from audit.ports import Document, RawDocument, SearchPage, SearchRequest, WriteResult
from audit.search_model import store_page
from audit.search_sqlite import SqliteSearch, ensure_schema

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT NOT NULL UNIQUE,
    stream TEXT,
    seq INTEGER,
    ts TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_stream_seq ON events(stream, seq);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""
_IN_CHUNK: Final = 500


class SqliteAuditStore:
    kind = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._search: SqliteSearch | None = None
        self._lock = threading.Lock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
        except (OSError, sqlite3.Error) as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be opened.") from exc
        if str(path) != ":memory:":
            # The FTS5 table (events_words) and field indexes of the query language, kept in
            # step with ``events`` by triggers: one full-text index, the one search uses.
            ensure_schema(self.path)

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for the search adapter (``audit.search``) of this store."""
        return self._conn

    def ping(self) -> None:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The embedded audit database does not answer.") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writing -------------------------------------------------------------------------------

    def write_batch(self, events: Sequence[AuditEvent]) -> WriteResult:
        return self.write_documents(
            [RawDocument(e.id, format_timestamp(e.timestamp), e.canonical_bytes()) for e in events]
        )

    def write_documents(self, documents: Sequence[RawDocument]) -> WriteResult:
        """Insert new ids in one transaction; JSON fields and the FTS row are computed in SQLite."""
        rows = {
            d.event_id: (d.event_id, d.timestamp, d.document.decode("utf-8")) for d in documents
        }
        try:
            with self._lock:
                db = self._conn
                db.execute("BEGIN IMMEDIATE")
                try:
                    created, rejected = self._insert_new(db, list(rows.values()))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be written.") from exc
        return WriteResult(created, len(documents) - created - len(rejected), rejected)

    def _insert_new(
        self, db: sqlite3.Connection, rows: list[tuple[str, str, str]]
    ) -> tuple[int, tuple[tuple[str, str], ...]]:
        before = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        db.executemany(
            "INSERT OR IGNORE INTO events(event_id, stream, seq, ts, doc) "
            "SELECT ?1, json_extract(?3, '$.anbao.stream'), json_extract(?3, '$.anbao.sequence'),"
            " ?2, ?3 WHERE json_valid(?3)",
            rows,
        )
        created = db.execute("SELECT count(*) FROM events WHERE rowid > ?", (before,)).fetchone()[0]
        rejected: tuple[tuple[str, str], ...] = ()
        if created < len(rows):
            present = self._present(db, [r[0] for r in rows])
            rejected = tuple((r[0], "malformed_json") for r in rows if r[0] not in present)
        return int(created), rejected

    @staticmethod
    def _present(db: sqlite3.Connection, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT event_id FROM events WHERE event_id IN ({marks})"  # noqa: S608 - placeholders only
            found.update(row[0] for row in db.execute(query, chunk))
        return found

    # -- reading -------------------------------------------------------------------------------

    def get(self, event_id: str) -> Document | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM events WHERE event_id=?", (event_id,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def scan(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[Document]:
        last = (start, "")  # every id is non-empty, so "> (start, '')" includes start
        limit = stop if stop is not None else 1 << 62
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, event_id, doc FROM events WHERE stream=? AND (seq, event_id) > (?, ?)"
                    " AND seq < ? ORDER BY seq, event_id LIMIT ?",
                    (stream, last[0], last[1], limit, batch_size),
                ).fetchall()
            for _, _, doc in rows:
                yield json.loads(doc)
            if len(rows) < batch_size:
                return
            last = (rows[-1][0], rows[-1][1])

    def streams(self) -> Mapping[str, int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT stream, count(*) FROM events WHERE stream IS NOT NULL GROUP BY stream"
            ).fetchall()
        return dict(rows)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def refresh(self) -> None:
        """Nothing to do: a committed SQLite write is visible at once."""

    def search(self, request: SearchRequest) -> SearchPage:
        """The port's search, answered by ``audit.search_sqlite`` on this file (no org scope,
        no masking: people search through ``audit.search.AuditSearch``)."""
        if self._search is None:
            if str(self.path) == ":memory:":
                raise NotImplementedError("search needs a file-backed SQLite store")
            self._search = SqliteSearch(self.path, clock=self._clock)
        return store_page(self._search, request)

    # -- retention -----------------------------------------------------------------------------

    def delete_before(self, cutoff: dt.datetime) -> int:
        """Delete events older than ``cutoff`` (retention; the caller checks the legal minimum)."""
        stamp = format_timestamp(cutoff)
        with self._lock:
            db = self._conn
            db.execute("BEGIN IMMEDIATE")
            deleted = db.execute("DELETE FROM events WHERE ts < ?", (stamp,)).rowcount
            db.execute("COMMIT")
        return int(deleted)
