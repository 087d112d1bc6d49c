"""A lease across machines: a PostgreSQL session-level advisory lock on a dedicated connection.

Several Anbao nodes share one PostgreSQL database (``[cluster] database_url``); a job whose
effect the deployment shares must run in one process of all of them. ``pg_try_advisory_lock``
on a key derived from the job's name is held by the database session that took it, and the
server releases it when that session ends, however it ends. So the lease is only as alive as its
connection, and the connection is made to end soon after its holder stops being able to act:

* **the holder's process dies** (kill -9, OOM): its kernel closes the socket, the server sees the
  end of the stream at once and ends the session;
* **the holder's host vanishes** (power, network): the server's TCP keepalives on the session
  (``tcp_keepalives_*``: 5 s idle, 3 probes 2 s apart) end it within ~11 s;
* **the holder freezes** (SIGSTOP, a paused VM) or its host is cut off without a reset: the
  holder's heartbeat (every 3 s) stops, and ``idle_session_timeout`` (15 s) ends the session.

The holder learns of a loss the same way from its side (libpq keepalives and
``tcp_user_timeout`` on its connection, the heartbeat failing) and drops the lease; it may then
try again as a standby. Before each run it **confirms** the lease on the live connection
(:meth:`PostgresLease.confirm`: its own backend still holds the lock in ``pg_locks``, answered
within 2 s), and does not run if it cannot: a holder the server has given up on, or one that
cannot reach the server, never starts a run next to the new holder. What it cannot stop is a
run already started that lasts longer than the takeover; the jobs are short, and each is
idempotent at its destination (cursors, run records), which is what makes that bound enough.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger("audit.lease")

#: Server-side: the session ends after this long without a statement (the heartbeat's absence).
IDLE_SESSION_TIMEOUT_SECONDS = 15.0
#: Holder-side: how often a holder proves it is alive to the server (and checks its lease).
HEARTBEAT_SECONDS = 3.0
#: A confirmation slower than this counts as a loss (the server may have moved on meanwhile).
CHECK_TIMEOUT_SECONDS = 2.0
#: TCP keepalives on both ends: idle seconds, seconds between probes, probes (~11 s to detect).
KEEPALIVE = (5, 2, 3)

_TRY = "SELECT pg_try_advisory_lock(%s), pg_backend_pid()"
# A bigint advisory lock appears in pg_locks as classid = high 32 bits, objid = low 32 bits,
# objsubid = 1 (PostgreSQL documentation, "pg_locks").
_HELD = """
SELECT pg_backend_pid() = %(pid)s AND EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND objsubid = 1
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = %(high)s::bigint::oid AND objid = %(low)s::bigint::oid
)
"""


def lease_key(name: str, namespace: str = "anbao") -> int:
    """The advisory lock key of ``name``: the first 8 bytes of SHA-256 of namespace and name, a
    signed 64-bit integer, the same on every node and in every release."""
    digest = hashlib.sha256(f"{namespace}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLease:
    """The lease ``name`` in the database at ``url``; the :class:`audit.lease.Lease` interface."""

    def __init__(
        self,
        url: str,
        name: str,
        *,
        namespace: str = "anbao",
        connect_timeout: float = 5.0,
        heartbeat: float = HEARTBEAT_SECONDS,
        idle_timeout: float = IDLE_SESSION_TIMEOUT_SECONDS,
        check_timeout: float = CHECK_TIMEOUT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.key = lease_key(name, namespace)
        self._url = url
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._idle_timeout = idle_timeout
        self._check_timeout = check_timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()  # one statement at a time on the lock connection
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = 0
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    @property
    def backend_pid(self) -> int:
        """The server process of the lock session while held (0 otherwise)."""
        return self._pid if self._conn is not None else 0

    def try_acquire(self) -> bool:
        """Take the lock on a new connection unless another session holds it; never waits for
        the lock (only, on a dead network, for the connect timeout)."""
        if self._conn is not None:
            return True
        try:
            conn = self._connect()
        except psycopg.Error as exc:
            log.debug("lease %s: database unreachable: %s", self.name, exc)
            return False
        try:
            row = conn.execute(_TRY, (self.key,)).fetchone()
        except psycopg.Error as exc:
            log.debug("lease %s: not taken: %s", self.name, exc)
            row = None
        if row is None or not row[0]:
            conn.close()
            return False
        with self._lock:
            self._conn, self._pid = conn, int(row[1])
        self._start_heartbeat()
        log.info("lease %s taken (backend %d)", self.name, self._pid)
        return True

    def confirm(self) -> bool:
        """The fencing check: this session still holds the lock, answered on the live
        connection within ``check_timeout``. False drops the lease (and closes the session)."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return False
            started = self._monotonic()
            try:
                params = {"pid": self._pid, "high": (self.key >> 32) & 0xFFFFFFFF,
                          "low": self.key & 0xFFFFFFFF}  # fmt: skip
                row = conn.execute(_HELD, params).fetchone()
                held = bool(row and row[0])
            except psycopg.Error as exc:
                log.warning("lease %s lost: the lock connection failed: %s", self.name, exc)
                held = False
            else:
                elapsed = self._monotonic() - started
                if held and elapsed > self._check_timeout:
                    log.warning("lease %s dropped: confirmed only after %.1fs", self.name, elapsed)
                    held = False
                elif not held:
                    log.warning("lease %s lost: the lock is no longer this session's", self.name)
            if not held:
                self._close_locked()
            return held

    def release(self) -> None:
        """Give the lease up (closing the session frees the lock); a no-op when not held."""
        self._beat_stop.set()
        with self._lock:
            self._close_locked()
        beat, self._beat = self._beat, None
        if beat is not None and beat is not threading.current_thread():
            beat.join(timeout=self._check_timeout + self._connect_timeout)

    # -- the connection --------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        idle, interval, count = KEEPALIVE
        options = (
            f"-c idle_session_timeout={int(self._idle_timeout * 1000)}"
            f" -c statement_timeout={int(self._check_timeout * 1000)}"
            f" -c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval}"
            f" -c tcp_keepalives_count={count}"
        )
        return psycopg.connect(
            self._url,
            autocommit=True,
            connect_timeout=max(1, round(self._connect_timeout)),
            application_name=f"anbao-lease:{self.name}"[:63],
            options=options,
            keepalives=1,
            keepalives_idle=idle,
            keepalives_interval=interval,
            keepalives_count=count,
            tcp_user_timeout=(idle + interval * count) * 1000,
        )

    def _close_locked(self) -> None:
        conn, self._conn, self._pid = self._conn, None, 0
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:  # already broken: the server ends the session itself
                log.debug("lease %s: closing a broken connection", self.name)

    def _start_heartbeat(self) -> None:
        self._beat_stop = stop = threading.Event()
        self._beat = threading.Thread(
            target=self._beat_loop, args=(stop,), name=f"lease-{self.name}", daemon=True
        )
        self._beat.start()

    def _beat_loop(self, stop: threading.Event) -> None:
        """Keeps the session busy enough for ``idle_session_timeout`` and notices a loss
        between runs (a long run of the job does not make the lease look idle)."""
        while not stop.wait(self._heartbeat):
            if not self.confirm():
                return
