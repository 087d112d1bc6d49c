"""Opening the siem package's embedded SQLite files, in one place for both of its stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from siem.alerts.errors import AlertStoreUnavailable
from sqlstore.sqlite import use_wal


def connect(path: str, schema: str, *, what: str) -> sqlite3.Connection:
    """Connect (creating the folder), use WAL for files, apply ``schema``; one clear error."""
    try:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        if path != ":memory:":
            use_wal(conn, timeout=30.0)
        conn.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise AlertStoreUnavailable(f"The {what} database cannot be opened.") from exc
    return conn
