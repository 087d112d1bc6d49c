"""Port of the integrity log: leaf hashes and signed tree heads, kept apart from the events.

Why a separate store: whoever can rewrite the event store must not be able to rewrite the
commitments too. The SQLite adapter keeps them in their own file (put it on another volume,
back it up with the heads export); signed heads are additionally exported as NDJSON for
off-site anchoring, so even a rewritten integrity store is caught against an older export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias

from audit.integrity.model import LeafRecord, SignedTreeHead

#: ``(sequence, event id, leaf hash)``: a log entry without the object (verify's hot path).
LeafRow: TypeAlias = tuple[int, str, bytes]


class SpooledDocument(Protocol):
    """What the shipper hands over once the store acknowledged it (``audit.recording.spool.SpooledRecord``).

    ``document`` is the canonical JSON the store received, so its leaf hash is computed from
    those very bytes, without parsing them again.
    """

    @property
    def event_id(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def document(self) -> bytes: ...


class IntegrityLog(Protocol):
    """Append-only leaf-hash log and signed tree heads, per stream."""

    def append_leaves(self, leaves: Sequence[LeafRecord]) -> None:
        """Add leaf records; re-adding an identical record is a no-op (redelivery).

        A different record at an occupied position raises
        :class:`audit.integrity.model.IntegrityError`: the log never changes a logged leaf.
        """

    def size(self, stream: str) -> int:
        """Length of the gap-free prefix ``0..size-1`` of the stream's log."""

    def leaves(self, stream: str, start: int, stop: int) -> list[LeafRecord]:
        """Logged records with ``start <= sequence < stop``, ascending."""

    def leaf_rows(self, stream: str, start: int, stop: int) -> list[LeafRow]:
        """:meth:`leaves` as plain tuples, ascending (cheap for millions of rows)."""

    def leaf_hashes(self, stream: str, start: int, stop: int) -> list[bytes]:
        """Just the hashes of :meth:`leaves` (the Merkle code's input)."""

    def leaf(self, stream: str, sequence: int) -> LeafRecord | None:
        """One record, or ``None``."""

    def add_head(self, head: SignedTreeHead) -> None:
        """Keep a signed head; a second head for the same ``(stream, size)`` is ignored."""

    def heads(self, stream: str | None = None) -> list[SignedTreeHead]:
        """Heads of one stream (or all), ordered by stream, then size."""

    def head(self, stream: str, size: int) -> SignedTreeHead | None:
        """The head of ``stream`` at ``size``, or ``None``."""

    def streams(self) -> list[str]:
        """Every stream that has logged leaves or heads."""

    def close(self) -> None:
        """Release the connection."""
