"""The integrity log in its own SQLite file (leaf hashes + signed tree heads).

One file, WAL journal, ``synchronous=FULL``: a head that was issued survives a crash, and a
leaf that was logged is never rewritten (``INSERT`` only; conflicting re-inserts are refused).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from audit.integrity.model import IntegrityError, LeafRecord, SignedTreeHead
from audit.sql.sqlite import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    stream TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, leaf_hash BLOB NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (
    stream TEXT NOT NULL, size INTEGER NOT NULL, ts_ms INTEGER NOT NULL, root BLOB NOT NULL,
    key_id TEXT NOT NULL, signature BLOB NOT NULL, PRIMARY KEY (stream, size)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_sizes (stream TEXT PRIMARY KEY, size INTEGER NOT NULL);
"""


class SqliteIntegrityLog:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            conn = connect(self.path, timeout=10.0, synchronous="FULL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise IntegrityError("The integrity log cannot be opened.") from exc
        self._conn = conn
        return conn

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection, reopened after :meth:`close` (ASGI test clients shut the app down
        after every request; a file-backed log simply reopens)."""
        return self._conn if self._conn is not None else self._open()

    def append_leaves(self, leaves: Sequence[LeafRecord]) -> None:
        if not leaves:
            return
        rows = [(r.stream, r.sequence, r.event_id, r.leaf_hash) for r in leaves]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                self._db.executemany("INSERT OR IGNORE INTO leaves VALUES (?, ?, ?, ?)", rows)
                if self._db.total_changes - before != len(rows):
                    self._check_conflicts(rows)
                for stream in {r.stream for r in leaves}:
                    self._advance(stream)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _check_conflicts(self, rows: list[tuple[str, int, str, bytes]]) -> None:
        """An ignored insert must have been an identical redelivery, never a rewrite."""
        for stream, seq, event_id, leaf_hash in rows:
            found = self._db.execute(
                "SELECT event_id, leaf_hash FROM leaves WHERE stream = ? AND seq = ?",
                (stream, seq),
            ).fetchone()
            if found != (event_id, leaf_hash):
                raise IntegrityError(f"Position {seq} of stream {stream} is already logged.")

    def _advance(self, stream: str) -> None:
        size = self._size(stream)
        count, last = self._db.execute(
            "SELECT count(*), max(seq) FROM leaves WHERE stream = ? AND seq >= ?", (stream, size)
        ).fetchone()
        if count and last == size + count - 1:  # gap-free past the size: no walk needed
            size += count
        else:
            for (seq,) in self._db.execute(
                "SELECT seq FROM leaves WHERE stream = ? AND seq >= ? ORDER BY seq", (stream, size)
            ):
                if seq != size:
                    break
                size += 1
        self._db.execute(
            "INSERT INTO stream_sizes VALUES (?, ?) "
            "ON CONFLICT(stream) DO UPDATE SET size = excluded.size",
            (stream, size),
        )

    def _size(self, stream: str) -> int:
        row = self._db.execute(
            "SELECT size FROM stream_sizes WHERE stream = ?", (stream,)
        ).fetchone()
        return int(row[0]) if row else 0

    def size(self, stream: str) -> int:
        with self._lock:
            return self._size(stream)

    def leaves(self, stream: str, start: int, stop: int) -> list[LeafRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, leaf_hash FROM leaves "
                "WHERE stream = ? AND seq >= ? AND seq < ? ORDER BY seq",
                (stream, start, stop),
            ).fetchall()
        return [LeafRecord(stream, seq, event_id, leaf_hash) for seq, event_id, leaf_hash in rows]

    def leaf_rows(self, stream: str, start: int, stop: int) -> list[tuple[int, str, bytes]]:
        with self._lock:
            return self._db.execute(
                "SELECT seq, event_id, leaf_hash FROM leaves "
                "WHERE stream = ? AND seq >= ? AND seq < ? ORDER BY seq",
                (stream, start, stop),
            ).fetchall()

    def leaf_hashes(self, stream: str, start: int, stop: int) -> list[bytes]:
        with self._lock:
            rows = self._db.execute(
                "SELECT leaf_hash FROM leaves WHERE stream = ? AND seq >= ? AND seq < ? "
                "ORDER BY seq",
                (stream, start, stop),
            ).fetchall()
        return [row[0] for row in rows]

    def leaf(self, stream: str, sequence: int) -> LeafRecord | None:
        found = self.leaves(stream, sequence, sequence + 1)
        return found[0] if found else None

    def add_head(self, head: SignedTreeHead) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO heads VALUES (?, ?, ?, ?, ?, ?)",
                (head.stream, head.size, head.timestamp_ms, head.root, head.key_id, head.signature),
            )

    def heads(self, stream: str | None = None) -> list[SignedTreeHead]:
        sql = "SELECT stream, size, ts_ms, root, key_id, signature FROM heads"
        args: tuple[str, ...] = ()
        if stream is not None:
            sql += " WHERE stream = ?"
            args = (stream,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY stream, size", args).fetchall()
        return [SignedTreeHead(*row) for row in rows]

    def head(self, stream: str, size: int) -> SignedTreeHead | None:
        with self._lock:
            row = self._db.execute(
                "SELECT stream, size, ts_ms, root, key_id, signature FROM heads "
                "WHERE stream = ? AND size = ?",
                (stream, size),
            ).fetchone()
        return SignedTreeHead(*row) if row else None

    def streams(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT stream FROM stream_sizes UNION SELECT stream FROM heads ORDER BY 1"
            ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
