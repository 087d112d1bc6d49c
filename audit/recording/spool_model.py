"""The spool's vocabulary: its policies, its configuration and what goes in and comes out.

Kept apart from :mod:`audit.recording.spool` (the SQLite mechanics) so settings and producers can name
a policy without the storage code; :mod:`audit.recording.spool` re-exports every name.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class FsyncPolicy(enum.StrEnum):
    ALWAYS = "always"
    BATCH = "batch"
    INTERVAL = "interval"


class Backpressure(enum.StrEnum):
    """What a producer sees when the spool is full. Audit events are never dropped."""

    BLOCK = "block"  # wait up to block_timeout for the shipper to make room, then fail
    FAIL = "fail"  # fail at once (the request gets 503 audit_spool_full)


@dataclasses.dataclass(frozen=True, slots=True)
class SpoolConfig:
    path: Path
    fsync: FsyncPolicy = FsyncPolicy.BATCH
    capacity_bytes: int = 1 << 30
    alarm_ratio: float = 0.8
    backpressure: Backpressure = Backpressure.BLOCK
    block_timeout: float = 10.0
    fsync_interval: float = 1.0
    #: This node's id in a cluster (``cluster.node_id``): every stream is spooled as
    #: ``<stream>.<node_id>`` (:func:`audit.model.node_stream`); empty on one machine.
    node_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class SpooledRecord:
    """One unshipped event as the shipper sees it: canonical document bytes plus its keys."""

    rowid: int
    event_id: str
    stream: str
    sequence: int
    timestamp: str
    document: bytes
    #: Bytes the record takes in the spool (its capacity share; a row of grouped request
    #: records counts on its first record).
    stored_size: int = -1
    #: Events the record stands for in the spool's counters (an unreadable group row: all).
    events: int = 1
    #: The document's object when the spool built the document (a request record's
    #: expansion), else ``None``: see :attr:`audit.ports.RawDocument.parsed`.
    parsed: Mapping[str, Any] | None = None

    @property
    def size(self) -> int:
        return self.stored_size if self.stored_size >= 0 else len(self.document)


@dataclasses.dataclass(frozen=True, slots=True)
class SpoolStats:
    pending_events: int
    pending_bytes: int
    capacity_bytes: int
    dead_events: int

    @property
    def fill_ratio(self) -> float:
        return self.pending_bytes / self.capacity_bytes if self.capacity_bytes else 0.0

    @property
    def empty(self) -> bool:
        """Nothing left to ship."""
        return self.pending_events == 0
