"""The embedded audit store: one SQLite file, the single-machine default."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from audit.errors import AuditStoreUnavailable


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
