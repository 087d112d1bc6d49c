"""The embedded audit store: one SQLite file (WAL) with FTS5, the single-machine default.

Documents are kept verbatim (canonical JSON text) so tamper evidence hashes what is stored.
Each document is parsed once as it is written: its stream and sequence, the fields search
filters on most (:data:`audit.search.query.sql.STORED_FIELDS`) and its free-text fields (the
``events_words`` FTS5 table that :func:`audit.search.sqlite.ensure_schema` adds) go into plain
columns from that one parse; other fields are reached with ``json_extract``. Not by SQL
triggers, because SQLite parses the document again for every ``json_extract`` a trigger calls
(figures in docs/audit-search.md, "Performance"). ``event_id`` is unique: writes are idempotent, so the pipeline's
at-least-once delivery stores each event exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from audit.errors import AuditStoreUnavailable
from audit.model import AuditEvent, format_timestamp
from audit.ports import Document, RawDocument, SearchPage, SearchRequest, WriteResult
from audit.search.model import store_page
from audit.search.query.elasticsearch import FREE_TEXT_FIELDS
from audit.search.query.sql import STORED_FIELDS, SqlLayout
from audit.search.sqlite import SqliteSearch, ensure_schema
from audit.sql.sqlite import connect

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT NOT NULL UNIQUE,
    stream TEXT,
    seq INTEGER,
    ts TEXT NOT NULL,
    doc TEXT NOT NULL,
    outcome,
    source_ip,
    org_path
);
CREATE INDEX IF NOT EXISTS events_stream_seq ON events(stream, seq);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""
_IN_CHUNK: Final = 500
_LAYOUT: Final = SqlLayout()
#: Where each stored field's value is in a parsed document, in the column order of ``_INSERT``.
#: The fields each document is read for: stream and sequence, the stored fields in the column
#: order of ``_INSERT``, then the free-text fields of ``_INSERT_WORDS``.
_LEAF_PATHS: Final = tuple(
    tuple(name.split("."))
    for name in ("anbao.stream", "anbao.sequence", *STORED_FIELDS, *FREE_TEXT_FIELDS)
)
_STORED: Final = len(STORED_FIELDS)
_INSERT: Final = (
    "INSERT OR IGNORE INTO events(event_id, stream, seq, ts, doc, "  # noqa: S608 - constants
    + ", ".join(_LAYOUT.column(f) for f in STORED_FIELDS)
    + ") VALUES (?, ?, ?, ?, ?"
    + ", ?" * len(STORED_FIELDS)
    + ")"
)
_INSERT_WORDS: Final = (
    f"INSERT INTO {_LAYOUT.fts}(rowid, "  # noqa: S608 - constants
    + ", ".join(f"c{i}" for i in range(len(FREE_TEXT_FIELDS)))
    + ") VALUES (?"
    + ", ?" * len(FREE_TEXT_FIELDS)
    + ")"
)


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
        self._words = str(path) != ":memory:"  # the FTS table (search needs a file)
        try:
            self._conn = connect(path, synchronous="NORMAL")
            self._conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
        except (OSError, sqlite3.Error) as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be opened.") from exc
        if str(path) != ":memory:":
            # The FTS5 table (events_words) and field indexes of the query language, kept in
            # step with ``events`` by triggers: one full-text index, the one search uses.
            ensure_schema(self.path)

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for the search adapter (``audit.search.service``) of this store."""
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
        """Insert new ids in one transaction, with their columns and FTS row; documents that
        are not a JSON object come back as rejected (``malformed_json``)."""
        rows: dict[str, tuple[Any, ...]] = {}
        words: dict[str, tuple[Any, ...]] = {}
        rejected: list[tuple[str, str]] = []
        for d in documents:
            parsed: Mapping[str, Any] | None = d.parsed  # the producer's: no second parse
            if parsed is not None:
                text = d.document.decode("utf-8")
            else:
                text, parsed = _parse(d.document)
                if parsed is None:
                    rejected.append((d.event_id, "malformed_json"))
                    continue
            row = [_extract(parsed, p) for p in _LEAF_PATHS]
            stream, seq, *rest = row
            rows[d.event_id] = (d.event_id, stream, seq, d.timestamp, text, *rest[:_STORED])
            words[d.event_id] = tuple(rest[_STORED:])
        try:
            with self._lock:
                db = self._conn
                db.execute("BEGIN IMMEDIATE")
                try:
                    created = self._insert_new(db, rows, words)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be written.") from exc
        return WriteResult(created, len(documents) - created - len(rejected), tuple(rejected))

    def _insert_new(
        self,
        db: sqlite3.Connection,
        rows: dict[str, tuple[Any, ...]],
        words: dict[str, tuple[Any, ...]],
    ) -> int:
        (before,) = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        db.executemany(_INSERT, rows.values())
        new = db.execute("SELECT rowid, event_id FROM events WHERE rowid > ?", (before,)).fetchall()
        if self._words and new:
            db.executemany(_INSERT_WORDS, [(rowid, *words[event_id]) for rowid, event_id in new])
        return len(new)

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
        """The port's search, answered by ``audit.search.sqlite`` on this file (no org scope,
        no masking: people search through ``audit.search.service.AuditSearch``)."""
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


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse(document: bytes) -> tuple[str, dict[str, Any] | None]:
    """The document's text and the object it holds, or ``None`` if it is not UTF-8 JSON (as
    SQLite's ``json_valid`` judges it) of an object."""
    try:
        text = document.decode("utf-8")
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError too
        return "", None
    return text, parsed if type(parsed) is dict else None


def _extract(document: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """What ``json_extract(doc, '$.a.b')`` gives for a parsed document."""
    node: Any = document
    for key in path:
        if type(node) is not dict:
            return None
        node = node.get(key)
    return _sql_value(node)


def _sql_value(value: Any) -> Any:
    if type(value) is bool:
        return int(value)
    if type(value) is dict or type(value) is list:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value
