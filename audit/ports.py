"""Ports of the audit package, named by role.

Stable contract for the integrity (Merkle/SM2) and search colleagues: only additive changes.

Documents, not objects, cross the store port on the way out: ``get`` and ``scan`` return the
document *exactly as stored* (a nested ECS mapping, see :mod:`audit.model`), so tamper evidence
can hash what is really in the store — a field added or changed behind Anbao's back must not be
normalised away by a parser. Use :func:`audit.model.event_from_document` when an object is wanted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from audit.model import AuditEvent

#: A stored audit document: the nested ECS mapping of :meth:`AuditEvent.to_document`.
Document: TypeAlias = Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of an idempotent batch write: new events, and ids that were already stored."""

    created: int
    existing: int
    #: ``(event_id, reason)`` of documents the store refuses for good (e.g. a mapping conflict);
    #: the pipeline moves them to the spool's dead-letter table and raises an alarm.
    rejected: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class RawDocument:
    """A document already in canonical JSON (from the spool): shipped without re-encoding."""

    event_id: str
    #: ``@timestamp`` as written by :func:`audit.model.format_timestamp` (picks the time index).
    timestamp: str
    document: bytes
    #: ``json.loads(document)`` when the producer wrote the document from it (the shipper's
    #: expansion of request records): readers take it instead of parsing the same bytes
    #: again, and never change it. ``None``: parse ``document``.
    parsed: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SearchRequest:
    """PROVISIONAL — defined together with the search colleague (``audit/query*.py``).

    ``query`` is the parsed query (an AST from ``audit.search.query.parse``), which each store compiles to its
    own language (Elasticsearch DSL, SQL); never a raw string passed to the backend.
    """

    query: object = None
    time_from: dt.datetime | None = None
    time_to: dt.datetime | None = None
    size: int = 100
    sort: tuple[tuple[str, str], ...] = (("@timestamp", "desc"), ("event.id", "asc"))
    search_after: tuple[Any, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SearchPage:
    """PROVISIONAL — one page of results; ``search_after`` continues after the last hit."""

    documents: tuple[Document, ...]
    total: int
    search_after: tuple[Any, ...] | None = None


class AuditStore(Protocol):
    """Where audit events are kept and searched (SQLite embedded, or Elasticsearch).

    Writes are idempotent by ``event.id`` (the store's primary key / Elasticsearch ``_id``):
    the pipeline delivers at least once, the store holds each event exactly once.
    """

    #: Short technology name for health reports and metrics.
    kind: str

    def ping(self) -> None:
        """Raise :class:`audit.errors.AuditStoreUnavailable` unless the store answers."""

    def close(self) -> None:
        """Release connections."""

    def write_batch(self, events: Sequence[AuditEvent]) -> WriteResult:
        """Store events that carry a sequence; an id already stored is left untouched.

        Raises :class:`audit.errors.AuditStoreUnavailable` when nothing or only part could be
        written; the caller retries the whole batch (idempotence makes that harmless).
        """

    def write_documents(self, documents: Sequence[RawDocument]) -> WriteResult:
        """Like :meth:`write_batch` for documents already serialized (the pipeline's fast path)."""

    def get(self, event_id: str) -> Document | None:
        """The stored document with this ``event.id``, or ``None``."""

    def scan(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[Document]:
        """Stored documents of ``stream`` with ``start <= anbao.sequence < stop``, ascending.

        Documents whose ``anbao.sequence`` is missing or malformed are not returned here.
        """

    def streams(self) -> Mapping[str, int]:
        """Each stream name with the number of stored documents in it."""

    def refresh(self) -> None:
        """Make everything written so far visible to ``get``/``scan``/``search``."""

    def search(self, request: SearchRequest) -> SearchPage:
        """PROVISIONAL placeholder: the search colleague defines the semantics with us.

        Adapters raise ``NotImplementedError`` until ``audit.search.query.parse`` lands.
        """


class EventSealer(Protocol):
    """Hook run on every event before it leaves the process (before the spool).

    ``audit.sensitive.masking`` implements it: sensitive fields (``audit.model.SENSITIVE_FIELDS``) are
    replaced by SM4-GCM ciphertext strings (key id recorded). Must be pure and thread-safe.
    """

    def seal(self, event: AuditEvent) -> AuditEvent:
        """Return the event with its sensitive fields protected."""


class DeliveryObserver(Protocol):
    """Told about every batch the shipper delivered, after the store confirmed it and the spool
    acknowledged it (the streaming detection engine in ``siem`` is one; ``anbao`` wires it with
    :meth:`audit.recording.shipper.Shipper.add_observer`, so ``audit`` never imports ``siem``).

    Called in the shipper thread: must be quick and thread-safe. An exception is logged and
    swallowed: an observer never stops or slows audit delivery (MLPS L3-CES1-15). Delivery to
    observers is at most once per event (a crash between acknowledgement and the call skips it);
    consumers that need every event also read the store (the scheduled engine does).
    """

    def delivered(self, documents: Sequence[RawDocument]) -> None:
        """Take the canonical JSON documents of one delivered batch, in spool order."""
