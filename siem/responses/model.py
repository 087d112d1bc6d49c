"""Response actions: what a rule (or an analyst) asks to be done about an alert, and its fate.

Destructive actions wait for a human decision (four-eyes: the approver is not the requester)
unless the rule declared ``approval: false`` (GB/T 22239-2019 §8.1.4.2 / L3-CES1-07 and the
security management clauses ask that privileged operations are authorised and recorded; every
step below is audited). Life cycle::

    pending ──approve──▶ approved ──▶ executed | failed
       └────reject────▶ rejected
    (approval: false)  ──────────────▶ executed | failed
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any, Final

from siem.model import ResponseKind

#: Who requests and approves actions that a rule runs without a human.
SYSTEM_ACTOR: Final = "system:siem"


class ActionState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTED = "executed"
    FAILED = "failed"


FINAL_STATES: Final = frozenset({ActionState.REJECTED, ActionState.EXECUTED, ActionState.FAILED})


@dataclasses.dataclass(frozen=True, slots=True)
class ActionRecord:
    """One response action; ``target`` is the value of ``target_field`` in the alert's entity."""

    id: str
    alert_id: str
    rule_id: str
    kind: ResponseKind
    target_field: str
    target: str
    state: ActionState
    approval_required: bool
    requested_by: str
    requested_at: dt.datetime
    #: The requester's token subject: four-eyes compares persons, not display names.
    requested_by_id: str = ""
    decided_by: str = ""
    decided_at: dt.datetime | None = None
    reason: str = ""
    executed_at: dt.datetime | None = None
    result: str = ""
    error: str = ""
    version: int = 0

    def evolve(self, **changes: Any) -> ActionRecord:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the API and CLI."""

        def when(value: dt.datetime | None) -> str | None:
            if value is None:
                return None
            return (
                value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            )

        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "rule_id": self.rule_id,
            "kind": self.kind.value,
            "target_field": self.target_field,
            "target": self.target,
            "state": self.state.value,
            "approval_required": self.approval_required,
            "requested_by": self.requested_by,
            "requested_at": when(self.requested_at),
            "requested_by_id": self.requested_by_id,
            "decided_by": self.decided_by,
            "decided_at": when(self.decided_at),
            "reason": self.reason,
            "executed_at": when(self.executed_at),
            "result": self.result,
            "error": self.error,
            "version": self.version,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ActionFilter:
    states: tuple[ActionState, ...] = ()
    alert_id: str = ""
    limit: int = 100
