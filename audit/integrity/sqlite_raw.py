"""``scan_raw`` for the embedded SQLite store: the stored canonical bytes, unparsed.

The SQLite store keeps each document as the canonical JSON text the spool produced (column
``doc`` of table ``events``, with ``stream`` and ``seq`` beside it). Reading that text lets
``verify`` hash what is stored instead of re-serializing a parsed copy. This reader opens its
own read-only connection to the store's file; ``tests/integration/audit/integrity/test_tamper.py`` runs
the tamper suite through it, so a change of the store's schema fails a test rather than
verification. (A ``scan_raw`` method on :class:`audit.stores.sqlite.SqliteAuditStore` itself would
make this module unnecessary.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.errors import AuditStoreUnavailable
from audit.ports import AuditStore
from audit.sql.sqlite import connect


class SqliteRawReader:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path).resolve()

    def scan_raw(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[tuple[int, bytes]]:
        """``(seq, doc)`` in ``seq`` order from one snapshot read."""
        del batch_size  # one statement: SQLite streams rows from its cursor
        try:
            db = connect(self._path, read_only=True)
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be read.") from exc
        try:
            rows = db.execute(
                "SELECT seq, doc FROM events WHERE stream = ? AND seq >= ? AND seq < ? "
                "ORDER BY seq, event_id",
                (stream, start, stop if stop is not None else 1 << 62),
            )
            for seq, text in rows:
                yield seq, text.encode("utf-8")
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be read.") from exc
        finally:
            db.close()


class WithSqliteRawScan:
    """A store plus a raw reader: everything delegates to the store, ``scan_raw`` to the reader."""

    def __init__(self, store: AuditStore, reader: SqliteRawReader) -> None:
        self._store = store
        self._reader = reader
        self.kind = store.kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def scan_raw(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[tuple[int, bytes]]:
        return self._reader.scan_raw(stream, start, stop, batch_size=batch_size)
