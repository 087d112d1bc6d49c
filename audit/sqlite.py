"""The embedded audit store: one SQLite file, the single-machine default."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from audit.errors import AuditStoreUnavailable
from audit.model import AuditEvent
from audit.ports import Document, SearchPage, SearchRequest, WriteResult


class SqliteAuditStore:
    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be opened.") from exc

    def ping(self) -> None:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The embedded audit database does not answer.") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # Being implemented (issue 5 parts 3-4); signatures are the audit.ports.AuditStore contract.
    def write_batch(self, events: Sequence[AuditEvent]) -> WriteResult:
        raise NotImplementedError

    def get(self, event_id: str) -> Document | None:
        raise NotImplementedError

    def scan(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[Document]:
        raise NotImplementedError

    def streams(self) -> Mapping[str, int]:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    def search(self, request: SearchRequest) -> SearchPage:
        raise NotImplementedError
