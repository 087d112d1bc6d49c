"""Opening the siem package's embedded SQLite files: the one connect helper, siem's error."""

from __future__ import annotations

import sqlite3

from audit.sql.sqlite import connect as sqlite_connect
from siem.alerts.errors import AlertStoreUnavailable


def connect(path: str, schema: str, *, what: str) -> sqlite3.Connection:
    """:func:`audit.sql.sqlite.connect`, then ``schema``; any failure is one clear error."""
    try:
        conn = sqlite_connect(path)
        conn.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise AlertStoreUnavailable(f"The {what} database cannot be opened.") from exc
    return conn
