"""Ports of the response actions: identity and seal operations, the action store, the audit.

``siem`` never talks to Keycloak or the seal registry directly (STYLE: dependency direction);
the composition root wires adapters: :mod:`siem.responses.keycloak` for identity and
``anbao.wiring.siem_alerts`` for seals and the audit recorder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from siem.responses.model import ActionFilter, ActionRecord


class IdentityResponder(Protocol):
    """Acts on user accounts; raises ``ResponseTargetNotFound`` / ``ResponseTargetUnavailable``."""

    def disable_user(self, username: str) -> None:
        """Disable the account so no new sign-in succeeds."""

    def end_sessions(self, username: str) -> int:
        """End every session of the user; returns how many there were."""


class SealResponder(Protocol):
    """Acts on electronic seals."""

    def suspend_seal(self, seal_id: str) -> None:
        """Suspend the seal (reversible by a seal administrator)."""


class ActionStore(Protocol):
    """Response actions by id, with version-checked updates."""

    def add(self, record: ActionRecord) -> ActionRecord:
        """Insert (version 1)."""

    def get(self, action_id: str) -> ActionRecord | None:
        """The action, or ``None``."""

    def replace(self, record: ActionRecord) -> ActionRecord:
        """Write if the stored version equals ``record.version``; else ``ActionStateConflict``."""

    def find(self, criteria: ActionFilter) -> Sequence[ActionRecord]:
        """Newest first."""


class ResponseAudit(Protocol):
    """Records each step (request, approve, reject, execute) durably; raises if it cannot."""

    def record(self, step: str, action: ActionRecord, actor: str, outcome: str) -> None:
        """``step``: requested | approved | rejected | executed; ``outcome``: success | failure."""
