"""Pull Keycloak's login and admin events on a schedule, map them to ECS, hand them to a journal.

Keycloak keeps events in its database and offers them through the admin API only (no push of
admin events without a custom SPI listener). Reading is therefore a poll with a persisted
cursor per stream:

* each pull asks for ``dateFrom = cursor.time - overlap`` in ascending order (Keycloak 26
  accepts ``dateFrom`` in epoch milliseconds and ``direction=asc``), pages with ``first``/``max``
  until a short page, and drops ids already seen in the window: no gaps at millisecond ties or
  for events committed slightly late, no duplicates;
* each page's new events, enriched (who the event is about, :mod:`iam.events.enrich`), go to the
  journal together with the advanced cursor in one transaction (the audit spool,
  ``anbao.wiring.identity_events``): a crash keeps both or neither, so nothing is skipped or repeated.
  :class:`SplitJournal` pairs a plain sink with a cursor store where no such transaction exists
  (stdout): a crash there repeats the last page (at-least-once, ``event.id`` is Keycloak's id).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from iam.events.model import (
    ADMIN_STREAM,
    LOGIN_STREAM,
    Cursor,
    admin_event_to_ecs,
    event_key,
    login_event_to_ecs,
)
from iam.events.ports import CursorStore, EcsEvent, EventJournal, EventSink, EventSource

#: Adds what the directory knows to one mapped event (:class:`iam.events.enrich.Enricher`).
Enrich = Callable[[EcsEvent], EcsEvent]


class SplitJournal:
    """A sink and a cursor store that share no transaction: the sink first, then the cursor."""

    def __init__(self, store: CursorStore, sink: EventSink) -> None:
        self._store = store
        self._sink = sink

    def load(self, stream: str) -> Cursor:
        return self._store.load(stream)

    def commit(self, stream: str, events: list[EcsEvent], cursor: Cursor) -> None:
        self._sink.emit(events)
        self._store.save(stream, cursor)


class SharedCursorJournal:
    """A node's journal (its spool: events and cursor in one transaction) plus the cursor every
    node reads (``iam.events.postgres``): the pull is a singleton that moves between nodes.

    ``load`` takes what either cursor has read (:meth:`Cursor.merge`): the shared one when
    another node pulled last, the node's own when its last page reached its spool but not the
    shared store. ``commit`` writes the page and the node's cursor first, then the shared
    cursor; writing the shared one first would lose the page if the node died in between. The
    one window left, a node killed between the two writes whose duty another node takes over
    before it returns, repeats that page at most once (``event.id`` is Keycloak's id).
    """

    def __init__(self, journal: EventJournal, shared: CursorStore) -> None:
        self._journal = journal
        self._shared = shared

    def load(self, stream: str) -> Cursor:
        return self._journal.load(stream).merge(self._shared.load(stream))

    def commit(self, stream: str, events: list[EcsEvent], cursor: Cursor) -> None:
        self._journal.commit(stream, events, cursor)
        self._shared.save(stream, cursor)


_MAPPERS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    LOGIN_STREAM: login_event_to_ecs,
    ADMIN_STREAM: admin_event_to_ecs,
}


class EventPuller:
    """One realm's two event streams; safe to stop and start again at any point."""

    def __init__(
        self,
        *,
        source: EventSource,
        journal: EventJournal,
        realm: str,
        enrich: Enrich | None = None,
        page_size: int = 200,
        overlap_ms: int = 60_000,
    ) -> None:
        self._source = source
        self._journal = journal
        self._enrich = enrich
        self._realm = realm
        self._page_size = page_size
        self._overlap_ms = overlap_ms

    def pull_once(self) -> int:
        """Deliver everything new on both streams; returns how many events were delivered."""
        return sum(self.pull_stream(stream) for stream in (LOGIN_STREAM, ADMIN_STREAM))

    def pull_stream(self, stream: str) -> int:
        cursor = self._journal.load(stream)
        date_from = max(0, cursor.time_ms - self._overlap_ms)
        delivered, first = 0, 0
        while True:
            page = list(self._source.fetch(stream, date_from, first, self._page_size))
            fresh = self._fresh(page, cursor, date_from)
            if fresh:
                to_ecs = _MAPPERS[stream]
                docs = [to_ecs(event, self._realm) for event in fresh]
                if self._enrich is not None:
                    docs = [self._enrich(doc) for doc in docs]
                cursor = cursor.advance(fresh, self._overlap_ms)
                self._journal.commit(stream, docs, cursor)
                delivered += len(fresh)
            if len(page) < self._page_size:
                return delivered
            first += len(page)

    @staticmethod
    def _fresh(
        page: list[Mapping[str, Any]], cursor: Cursor, date_from: int
    ) -> list[Mapping[str, Any]]:
        out, keys = [], set()
        for event in sorted(page, key=lambda e: int(e.get("time", 0))):
            key = event_key(event)
            if key in cursor.seen or key in keys or int(event.get("time", 0)) < date_from:
                continue
            keys.add(key)
            out.append(event)
        return out

    def run(self, interval_seconds: float, stop: threading.Event) -> None:
        """Pull every ``interval_seconds`` until ``stop`` is set (the schedule of the CLI)."""
        while not stop.is_set():
            self.pull_once()
            stop.wait(interval_seconds)
