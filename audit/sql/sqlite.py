"""Opening the platform's embedded SQLite files, one way: folder, busy timeout, WAL, read-only.

Every raw ``sqlite3`` store (audit spool and store, integrity log, saved searches, SIEM alerts and
actions, the Keycloak event cursor) opens through :func:`connect`, so the busy timeout, the
write-ahead log and its multi-process open race are handled once.

Switching a file to write-ahead logging reads the file, then needs its write lock. Two handles opening a new file at the same
moment can each hold the read lock and want the write lock; SQLite then refuses one at once
instead of waiting (waiting would deadlock), so the connection's busy timeout does not cover it.
Seen as "database is locked" in a worker that opened the spool beside three others.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

MEMORY = ":memory:"


def connect(
    path: str | Path,
    *,
    timeout: float = 30.0,
    wal: bool = True,
    synchronous: Literal["NORMAL", "FULL"] | None = None,
    read_only: bool = False,
    autocommit: bool = True,
) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialise), waiting ``timeout`` seconds on
    locks. A file gets its folder and, with ``wal``, write-ahead logging (:func:`use_wal`);
    ``read_only`` opens an existing file with ``mode=ro`` and changes nothing. ``autocommit``
    leaves transactions to explicit ``BEGIN``; without it, Python's implicit ones apply."""
    isolation: Literal["DEFERRED"] | None = None if autocommit else "DEFERRED"
    if read_only:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(
            uri, uri=True, timeout=timeout, isolation_level=isolation, check_same_thread=False
        )
    memory = str(path) == MEMORY
    if not memory:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        str(path), timeout=timeout, isolation_level=isolation, check_same_thread=False
    )
    try:
        if wal and not memory:
            use_wal(db, timeout=timeout)
        if synchronous is not None:
            db.execute(f"PRAGMA synchronous={synchronous}")
    except sqlite3.Error:
        db.close()
        raise
    return db


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
