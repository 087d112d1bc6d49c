"""In-memory fakes of the registry's ports, for tests of callers (like ``falcon.testing``)."""

from __future__ import annotations

from collections.abc import Sequence

from crypto.seals.registry.errors import SealStateConflict
from crypto.seals.registry.model import OrgUnit, SealEvent, SealRecord, SealState
from crypto.seals.registry.rules import in_subtree


class MemorySealRepository:
    """``SealRepository`` in a dict, with the same compare-and-set semantics as SQL."""

    def __init__(self) -> None:
        self.records: dict[str, SealRecord] = {}

    def add(self, record: SealRecord) -> None:
        """Insert."""
        if record.id in self.records:
            raise SealStateConflict("a seal with this id exists")
        self.records[record.id] = record

    def get(self, seal_id: str) -> SealRecord | None:
        """Look up."""
        return self.records.get(seal_id)

    def replace(self, record: SealRecord, *, expected_version: int) -> None:
        """Compare-and-set."""
        current = self.records.get(record.id)
        if current is None or current.version != expected_version:
            raise SealStateConflict("the seal changed meanwhile; read it again")
        self.records[record.id] = record

    def find(
        self, *, org_prefix: str | None = None, state: SealState | None = None, limit: int = 100
    ) -> Sequence[SealRecord]:
        """Filter, newest first."""
        found = [
            r
            for r in self.records.values()
            if (org_prefix is None or in_subtree(org_prefix, r.application.org_path))
            and (state is None or r.state is state)
        ]
        return sorted(found, key=lambda r: r.created_at, reverse=True)[:limit]

    def ping(self) -> None:
        """Always up."""


class RecordingAuditTrail:
    """``AuditTrail`` that keeps events in a list; ``fail`` makes it refuse (fail-closed tests)."""

    def __init__(self) -> None:
        self.events: list[SealEvent] = []
        self.fail = False

    def record(self, event: SealEvent) -> None:
        """Append, or raise when told to."""
        if self.fail:
            raise RuntimeError("audit trail unavailable")
        self.events.append(event)

    def actions(self) -> list[tuple[str, str]]:
        """(action, outcome) pairs, in order."""
        return [(e.action, e.outcome) for e in self.events]


class MemoryOrgTree:
    """``OrgTree`` over a dict of units, found by id or code (the directory's two keys)."""

    def __init__(self, *units: OrgUnit) -> None:
        self.units = {u.id: u for u in units}

    def node(self, ref: str) -> OrgUnit | None:
        """By id, else by code."""
        return self.units.get(ref) or next((u for u in self.units.values() if u.code == ref), None)
