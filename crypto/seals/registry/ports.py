"""Ports of the seal registry: where records live and where audit events go."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from crypto.seals.registry.model import OrgUnit, SealEvent, SealRecord, SealState


class SealRepository(Protocol):
    """Persistence of seal records with optimistic concurrency on ``version``."""

    def add(self, record: SealRecord) -> None:
        """Insert a new record."""
        ...

    def get(self, seal_id: str) -> SealRecord | None:
        """One record, or None."""
        ...

    def replace(self, record: SealRecord, *, expected_version: int) -> None:
        """Store ``record`` if the stored version is ``expected_version``; else SealStateConflict."""
        ...

    def find(
        self, *, org_prefix: str | None = None, state: SealState | None = None, limit: int = 100
    ) -> Sequence[SealRecord]:
        """Records in an org subtree (None: all), optionally in one state, newest first."""
        ...

    def ping(self) -> None:
        """Raise SealDatabaseError unless the database answers (readiness)."""
        ...


class AuditTrail(Protocol):
    """Where lifecycle and use events go; raising makes the audited action fail (fail closed)."""

    def record(self, event: SealEvent) -> None:
        """Record durably before returning."""
        ...


class OrgTree(Protocol):
    """The live org tree (the identity provider's directory, adapted by the composition root)."""

    def node(self, ref: str) -> OrgUnit | None:
        """The node with this id or code, or None; read live, never cached across requests."""
        ...
