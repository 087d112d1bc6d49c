"""Ports of the siem package, named by role.

Stable contract (the alerts colleague implements :class:`DetectionSink`; only additive changes).

Documents cross these ports as nested ECS mappings (:meth:`audit.model.AuditEvent.to_document`),
the same shape the audit store keeps, so the engines see exactly what an analyst searches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from siem.model import Detection

#: An audit document (nested ECS mapping), as delivered by the pipeline or read from the store.
Document: TypeAlias = Mapping[str, Any]


class DetectionSink(Protocol):
    """Receives detections from either engine (the alert service implements it).

    Called from the audit shipper thread (streaming) or the scheduler (scheduled), possibly for
    the same finding from both engines: :attr:`siem.model.Detection.key` is equal then. Must be
    thread-safe and should return quickly; an exception is logged by the engine, never raised
    into the audit pipeline (detection must not stop audit delivery, MLPS L3-CES1-15).
    """

    def emit(self, detections: Sequence[Detection]) -> None:
        """Take a batch of detections (possibly empty)."""


class EventSource(Protocol):
    """Where the scheduled engine reads events: a query in the store's own language.

    ``query`` is the text pySigma's Elasticsearch backend produced for a rule (Lucene syntax,
    built from linted rule content, never from user input); ``start <= @timestamp < end``.
    Results come in ascending ``@timestamp``, ``event.id`` order so correlations are computed
    over a deterministic sequence.
    """

    def search(
        self, query: str, start: dt.datetime, end: dt.datetime, *, page_size: int = 1000
    ) -> Iterator[Document]:
        """Every matching document in the window, ascending; raises on store failure."""


class CheckpointStore(Protocol):
    """Keeps the scheduled engine's progress (last window end, keys already emitted).

    Lets a restarted scheduler resume with overlap and without double detections.
    """

    def load(self, name: str) -> Mapping[str, Any] | None:
        """The saved state under ``name``, or ``None``."""

    def save(self, name: str, state: Mapping[str, Any]) -> None:
        """Replace the state under ``name`` (JSON-serializable values only)."""


__all__ = ["CheckpointStore", "DetectionSink", "Document", "EventSource"]
