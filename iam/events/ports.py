"""Ports of the iam package: what its services need from the outside, named by role.

Adapters live next to them by technology (``iam.events.keycloak``, ``iam.events.sqlite``); in-memory
stand-ins for unit tests live in ``iam.tokens.testing`` and the tests' fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from iam.events.model import Cursor

#: An ECS-style event: nested dicts of JSON values (``event.action``, ``user.id`` ...).
EcsEvent = dict[str, Any]


class EventSink(Protocol):
    """Where identity events go (the audit package plugs its recorder in here)."""

    def emit(self, events: list[EcsEvent]) -> None:
        """Store or forward ``events`` (oldest first); raising leaves the cursor unmoved."""


class EventJournal(Protocol):
    """Where pulled events go together with their stream's read position (the audit spool).

    Storing both in one transaction is what keeps the stream free of gaps and repeats across
    restarts and killed processes: after a crash the journal holds both or neither.
    """

    def load(self, stream: str) -> Cursor:
        """The stream's cursor; a fresh cursor (time 0, nothing seen) when there is none."""

    def commit(self, stream: str, events: list[EcsEvent], cursor: Cursor) -> None:
        """Store ``events`` (oldest first) and ``cursor`` atomically; raising stores neither."""


class EventSource(Protocol):
    """Keycloak's event history for one realm, oldest first, inclusive of ``date_from_ms``."""

    def fetch(
        self, stream: str, date_from_ms: int, first: int, max_results: int
    ) -> Sequence[Mapping[str, Any]]: ...


class CursorStore(Protocol):
    """Persists how far each event stream has been read, so restarts neither skip nor repeat."""

    def load(self, stream: str) -> Cursor:
        """The stream's cursor; a fresh cursor (time 0, nothing seen) when there is none."""

    def save(self, stream: str, cursor: Cursor) -> None:
        """Persist atomically: a crash leaves the old or the new cursor, never a mix."""
