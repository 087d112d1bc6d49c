"""In-memory fakes of the response ports (unit tests; the real adapters have their own tests)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from siem.alerts.errors import ActionStateConflict, ResponseTargetNotFound
from siem.responses.model import ActionFilter, ActionRecord


class MemoryActionStore:
    def __init__(self) -> None:
        self._records: dict[str, ActionRecord] = {}

    def add(self, record: ActionRecord) -> ActionRecord:
        stored = self._records[record.id] = record.evolve(version=1)
        return stored

    def get(self, action_id: str) -> ActionRecord | None:
        return self._records.get(action_id)

    def replace(self, record: ActionRecord) -> ActionRecord:
        current = self._records.get(record.id)
        if current is None or current.version != record.version:
            raise ActionStateConflict("the action was decided by someone else meanwhile")
        stored = self._records[record.id] = record.evolve(version=record.version + 1)
        return stored

    def find(self, criteria: ActionFilter) -> Sequence[ActionRecord]:
        found = [
            r
            for r in self._records.values()
            if (not criteria.states or r.state in criteria.states)
            and (not criteria.alert_id or r.alert_id == criteria.alert_id)
        ]
        found.sort(key=lambda r: (r.requested_at, r.id), reverse=True)
        return found[: criteria.limit]


@dataclasses.dataclass
class FakeIdentity:
    """Users by name: enabled flag and open session count."""

    users: dict[str, tuple[bool, int]] = dataclasses.field(default_factory=dict)

    def disable_user(self, username: str) -> None:
        if username not in self.users:
            raise ResponseTargetNotFound("no such user")
        self.users[username] = (False, self.users[username][1])

    def end_sessions(self, username: str) -> int:
        if username not in self.users:
            raise ResponseTargetNotFound("no such user")
        enabled, sessions = self.users[username]
        self.users[username] = (enabled, 0)
        return sessions


@dataclasses.dataclass
class FakeSeals:
    suspended: list[str] = dataclasses.field(default_factory=list)

    def suspend_seal(self, seal_id: str) -> None:
        self.suspended.append(seal_id)


@dataclasses.dataclass
class ListAudit:
    """Keeps (step, action id, actor, outcome, state) tuples."""

    entries: list[tuple[str, str, str, str, str]] = dataclasses.field(default_factory=list)
    fail: bool = False

    def record(self, step: str, action: ActionRecord, actor: str, outcome: str) -> None:
        if self.fail:
            raise RuntimeError("audit spool full")
        self.entries.append((step, action.id, actor, outcome, action.state.value))
