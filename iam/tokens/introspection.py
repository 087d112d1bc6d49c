"""RFC 7662 token introspection for high-assurance routes, cached briefly.

A locally verified JWT stays valid until its ``exp`` even when the user signs out or an admin
revokes the session. Routes where that matters (granting roles, sealing, key operations) also
ask Keycloak whether the token is still ``active`` (RFC 7662 §2.2). Answers are cached for a
few seconds, never past the token's ``exp``, and the cache is bounded, so a burst of calls from
one client costs Keycloak one request per ``ttl_seconds``.

Framework-free: the HTTP call is injected (:class:`Introspector`); :mod:`iam.tokens.keycloak` has the
Keycloak adapter that authenticates with the resource server's own client credentials.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from iam.errors import Unauthenticated
from iam.tokens.model import Principal


class Introspector(Protocol):
    """POSTs a token to the introspection endpoint and returns the JSON answer (RFC 7662 §2.2)."""

    def introspect(self, token: str) -> Mapping[str, Any]: ...


class IntrospectionCache:
    """Checks that a token is still active at the issuer; thread-safe, bounded, short-lived."""

    def __init__(
        self,
        introspector: Introspector,
        *,
        clock: Callable[[], float],
        ttl_seconds: float = 5.0,
        max_entries: int = 10_000,
    ) -> None:
        self._introspector = introspector
        self._clock = clock
        self._ttl = ttl_seconds
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[bytes, tuple[bool, float]] = (
            collections.OrderedDict()
        )

    def close(self) -> None:
        """Release the introspector's connections (if it holds any)."""
        close = getattr(self._introspector, "close", None)
        if callable(close):
            close()

    def ensure_active(self, token: str, principal: Principal) -> None:
        """Raise :class:`Unauthenticated` unless the issuer says the token is active."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        active = self._lookup(digest, now)
        if active is None:
            answer = self._introspector.introspect(token)
            active = answer.get("active") is True and _same_subject(answer, principal)
            until = min(now + self._ttl, float(principal.expires_at))
            self._store(digest, active, until)
        if not active:
            raise Unauthenticated("The access token is no longer active.")

    def _lookup(self, digest: bytes, now: float) -> bool | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if now >= entry[1]:
                del self._entries[digest]
                return None
            return entry[0]

    def _store(self, digest: bytes, active: bool, until: float) -> None:
        with self._lock:
            self._entries[digest] = (active, until)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


def _same_subject(answer: Mapping[str, Any], principal: Principal) -> bool:
    """An active answer must be about the token we verified (defence in depth)."""
    sub = answer.get("sub")
    return sub is None or sub == principal.subject
