"""The console's server-side sessions: the browser holds an opaque id, the server the tokens.

OAuth 2.0 for Browser-Based Applications (backend-for-frontend) keeps every token on the server,
tied to a cookie. Sessions live in one SQLite file (``console.session_path``) so every worker of
``anbao serve`` sees the same ones. The row is keyed by SM3 of the cookie's id, so a copy of the
file gives no cookie, and the tokens are sealed with SM4-GCM (:mod:`crypto.aead`) under a key
file of the data directory (made, mode 0600, when missing), bound to that key hash: a row moved
to another id does not open.

A session's lifetime is the realm's (the draft's rule: session lifetime = refresh-token
lifetime): ``expires_at`` is the refresh token's expiry, pushed forward by each refresh, which
Keycloak caps at its SSO idle and maximum lifetimes. The store ends a session when that passes;
the realm ends it when a refresh fails.

Pending logins (``state`` → PKCE verifier, nonce, where to return, the step-up level asked for)
live in the same file for ten minutes, so the callback may land on any worker.

Clustered (``[cluster] database_url``), the rows live in the cluster database instead
(:mod:`anbao.console.sessions_sql`), so a person signed in through one node keeps the session on
the next, and a login begun on one node ends on another. The key then stays a file that the
operator gives every node (a secret mounted like the others) and the node never makes it: a key
kept in the database would sit beside the rows it seals, so a dump of the database would open
every session; a key made per node would open only that node's sessions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from audit.sql.sqlite import connect
from crypto import aead, sm3
from crypto.errors import DecryptionFailed

LOGIN_TTL_SECONDS = 600.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key BLOB PRIMARY KEY, sealed BLOB NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS logins (
    key BLOB PRIMARY KEY, sealed BLOB NOT NULL, expires_at REAL NOT NULL
);
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """One signed-in person: who, their tokens, and the session's own CSRF token."""

    subject: str
    username: str
    name: str
    roles: tuple[str, ...]
    acr: str
    access_token: str
    refresh_token: str
    id_token: str
    access_expires_at: float
    expires_at: float
    csrf: str
    locale: str = "zh-CN"
    #: A sensitive action waiting for step-up: method, path, form fields (the resume page).
    pending: dict[str, Any] | None = None
    #: What the next page shows once and forgets (a new client secret, an activation link).
    once: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the callback needs: PKCE verifier, nonce, where to go next, the level asked for."""

    verifier: str
    nonce: str
    next_path: str
    acr: str = ""
    #: The session being stepped up (its id's hash), kept so the pending action survives.
    session_key: str = ""


class SessionRows(Protocol):
    """Where sealed sessions and pending logins are kept, by the SM3 of their id."""

    def put_session(self, key: bytes, sealed: bytes, expires_at: float) -> None: ...

    def session(self, key: bytes) -> tuple[bytes, float] | None: ...

    def delete_session(self, key: bytes) -> None: ...

    def put_login(self, key: bytes, sealed: bytes, expires_at: float, *, now: float) -> None:
        """Store a pending login, first dropping the logins and sessions expired at ``now``."""
        ...

    def take_login(self, key: bytes) -> tuple[bytes, float] | None:
        """Delete and return a pending login (once: a replayed callback finds nothing)."""
        ...

    def close(self) -> None: ...


class SqliteSessionRows:
    """:class:`SessionRows` in one SQLite file shared by the workers of one machine."""

    def __init__(self, path: str | Path) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection, opened on first use (and again after :meth:`close`)."""
        if self._connection is None:
            self._connection = connect(self._path)
            self._connection.executescript(_SCHEMA)
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def put_session(self, key: bytes, sealed: bytes, expires_at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", (key, sealed, expires_at)
            )

    def session(self, key: bytes) -> tuple[bytes, float] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT sealed, expires_at FROM sessions WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def delete_session(self, key: bytes) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE key = ?", (key,))

    def put_login(self, key: bytes, sealed: bytes, expires_at: float, *, now: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM logins WHERE expires_at <= ?", (now,))
            self._db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            self._db.execute(
                "INSERT OR REPLACE INTO logins VALUES (?, ?, ?)", (key, sealed, expires_at)
            )

    def take_login(self, key: bytes) -> tuple[bytes, float] | None:
        with self._lock:
            row = self._db.execute(
                "DELETE FROM logins WHERE key = ? RETURNING sealed, expires_at", (key,)
            ).fetchone()
        return None if row is None else (row[0], row[1])


class SessionStore:
    """Sessions and pending logins, tokens sealed with SM4-GCM; kept in one SQLite file
    (``path``) unless ``rows`` says where (the cluster database: :mod:`anbao.console.sessions_sql`).

    ``create_key`` false (a clustered node) refuses to make a missing key file: each node would
    make its own, and a session made on one would not open on another.
    """

    def __init__(
        self,
        path: str | Path,
        key_file: str | Path,
        clock: Callable[[], float] = time.time,
        *,
        rows: SessionRows | None = None,
        create_key: bool = True,
    ) -> None:
        self._rows = rows if rows is not None else SqliteSessionRows(path)
        self._key_file = Path(key_file)
        self._create_key = create_key
        self._sealing_key: bytes | None = None
        self._clock = clock

    @property
    def _key(self) -> bytes:
        """The sealing key, read (or made) on first use: building the app writes nothing."""
        if self._sealing_key is None:
            self._sealing_key = _key(self._key_file, create=self._create_key)
        return self._sealing_key

    def close(self) -> None:
        self._rows.close()

    # sessions
    def create(self, session: Session) -> str:
        """Store ``session`` under a new random id, returned for the cookie."""
        session_id = secrets.token_urlsafe(32)
        self.save(session_id, session)
        return session_id

    def save(self, session_id: str, session: Session) -> None:
        key = _hash(session_id)
        sealed = aead.seal(self._key, json.dumps(dataclasses.asdict(session)).encode(), key)
        self._rows.put_session(key, sealed, session.expires_at)

    def get(self, session_id: str) -> Session | None:
        """The live session of this id, or None (unknown, ended, past the realm's lifetime)."""
        if not session_id or len(session_id) > 128:  # noqa: PLR2004 - ids are 43 characters
            return None
        key = _hash(session_id)
        row = self._rows.session(key)
        if row is None or row[1] <= self._clock():
            return None
        try:
            fields = json.loads(aead.open(self._key, row[0], key))
        except DecryptionFailed:  # another key (rotated): the person signs in again
            return None
        fields["roles"] = tuple(fields["roles"])
        return Session(**fields)

    def delete(self, session_id: str) -> None:
        self._rows.delete_session(_hash(session_id))

    # pending logins
    def begin_login(self, state: str, login: PendingLogin) -> None:
        key = _hash(state)
        sealed = aead.seal(self._key, json.dumps(dataclasses.asdict(login)).encode(), key)
        now = self._clock()
        self._rows.put_login(key, sealed, now + LOGIN_TTL_SECONDS, now=now)

    def take_login(self, state: str) -> PendingLogin | None:
        """The pending login of ``state``, once (a replayed callback finds nothing)."""
        if not state or len(state) > 128:  # noqa: PLR2004
            return None
        key = _hash(state)
        row = self._rows.take_login(key)
        if row is None or row[1] <= self._clock():
            return None
        try:
            return PendingLogin(**json.loads(aead.open(self._key, row[0], key)))
        except DecryptionFailed:
            return None


class SessionKeyMissing(RuntimeError):
    """A clustered node has no console session key file (it must be the same on every node)."""


def _hash(value: str) -> bytes:
    return sm3.digest(value.encode())


def _key(path: Path, *, create: bool = True) -> bytes:
    """The sealing key: read, or made once (0600, written atomically so workers agree)."""
    if not path.exists() and not create:
        raise SessionKeyMissing(
            f"console.session_key_file {path} does not exist: a clustered node never makes its"
            " own (make one key, e.g. 'openssl rand -hex 16', and give every node the same file)"
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{path.name}.{os.getpid()}")
        fresh.write_bytes(aead.generate_key().hex().encode())
        fresh.chmod(0o600)
        try:
            os.link(fresh, path)  # the first worker wins; the others read its key
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
    return bytes.fromhex(path.read_text().strip())
