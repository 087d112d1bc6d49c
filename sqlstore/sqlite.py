"""Switching an SQLite file to write-ahead logging when several processes may open it at once.

The switch reads the file, then needs its write lock. Two handles opening a new file at the same
moment can each hold the read lock and want the write lock; SQLite then refuses one at once
instead of waiting (waiting would deadlock), so the connection's busy timeout does not cover it.
Seen as "database is locked" in a worker that opened the spool beside three others.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable


def use_wal(
    db: sqlite3.Connection,
    *,
    timeout: float,
    pause: float = 0.01,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """``PRAGMA journal_mode=WAL``, retried for up to ``timeout`` seconds while another handle
    holds the lock; any other error, or still busy at the end, is raised. The clock and the
    pause are injected so that tests count retries instead of timing them."""
    deadline = monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or monotonic() >= deadline:
                raise
            sleep(pause)
        else:
            return
