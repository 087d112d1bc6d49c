"""Ports of the audit package, named by role."""

from __future__ import annotations

from typing import Protocol


class AuditStore(Protocol):
    """Where audit events are kept and searched (SQLite embedded, or Elasticsearch)."""

    #: Short technology name for health reports and metrics.
    kind: str

    def ping(self) -> None:
        """Raise :class:`audit.errors.AuditStoreUnavailable` unless the store answers."""

    def close(self) -> None:
        """Release connections."""
