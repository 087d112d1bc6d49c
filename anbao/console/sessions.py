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
from typing import Any

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


@dataclasses.dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the callback needs: PKCE verifier, nonce, where to go next, the level asked for."""

    verifier: str
    nonce: str
    next_path: str
    acr: str = ""
    #: The session being stepped up (its id's hash), kept so the pending action survives.
    session_key: str = ""


class SessionStore:
    """Sessions and pending logins in one SQLite file, tokens sealed with SM4-GCM."""

    def __init__(
        self, path: str | Path, key_file: str | Path, clock: Callable[[], float] = time.time
    ) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._key_file = Path(key_file)
        self._sealing_key: bytes | None = None
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def _key(self) -> bytes:
        """The sealing key, read (or made) on first use: building the app writes nothing."""
        if self._sealing_key is None:
            self._sealing_key = _key(self._key_file)
        return self._sealing_key

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

    # sessions
    def create(self, session: Session) -> str:
        """Store ``session`` under a new random id, returned for the cookie."""
        session_id = secrets.token_urlsafe(32)
        self.save(session_id, session)
        return session_id

    def save(self, session_id: str, session: Session) -> None:
        key = _hash(session_id)
        sealed = aead.seal(self._key, json.dumps(dataclasses.asdict(session)).encode(), key)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                (key, sealed, session.expires_at),
            )

    def get(self, session_id: str) -> Session | None:
        """The live session of this id, or None (unknown, ended, past the realm's lifetime)."""
        if not session_id or len(session_id) > 128:  # noqa: PLR2004 - ids are 43 characters
            return None
        key = _hash(session_id)
        with self._lock:
            row = self._db.execute(
                "SELECT sealed, expires_at FROM sessions WHERE key = ?", (key,)
            ).fetchone()
        if row is None or row[1] <= self._clock():
            return None
        try:
            fields = json.loads(aead.open(self._key, row[0], key))
        except DecryptionFailed:  # another key (rotated): the person signs in again
            return None
        fields["roles"] = tuple(fields["roles"])
        return Session(**fields)

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE key = ?", (_hash(session_id),))

    # pending logins
    def begin_login(self, state: str, login: PendingLogin) -> None:
        key = _hash(state)
        sealed = aead.seal(self._key, json.dumps(dataclasses.asdict(login)).encode(), key)
        now = self._clock()
        with self._lock:
            self._db.execute("DELETE FROM logins WHERE expires_at <= ?", (now,))
            self._db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            self._db.execute(
                "INSERT OR REPLACE INTO logins VALUES (?, ?, ?)",
                (key, sealed, now + LOGIN_TTL_SECONDS),
            )

    def take_login(self, state: str) -> PendingLogin | None:
        """The pending login of ``state``, once (a replayed callback finds nothing)."""
        if not state or len(state) > 128:  # noqa: PLR2004
            return None
        key = _hash(state)
        with self._lock:
            row = self._db.execute(
                "DELETE FROM logins WHERE key = ? RETURNING sealed, expires_at", (key,)
            ).fetchone()
        if row is None or row[1] <= self._clock():
            return None
        try:
            return PendingLogin(**json.loads(aead.open(self._key, row[0], key)))
        except DecryptionFailed:
            return None


def _hash(value: str) -> bytes:
    return sm3.digest(value.encode())


def _key(path: Path) -> bytes:
    """The sealing key: read, or made once (0600, written atomically so workers agree)."""
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
