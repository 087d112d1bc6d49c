"""Response actions: planned from the rule when an alert opens, approved by a human, executed.

The actions a rule declares (Sigma custom field ``x-anbao-response``, see :mod:`siem.model`)
are planned for every new alert; each targets a value of the alert's entity (e.g. the
``user.name`` of a brute-forced account), so an action can only touch what the evidence names.
An action needing approval waits as ``pending`` until a security analyst or platform admin other
than the requester approves it (four-eyes); a concurrent second approval loses on the store's
version check, so an action runs at most once. Every step goes to the audit trail before it
takes effect (fail closed: no audit, no action).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from siem.alerts.errors import (
    ActionNotFound,
    ActionStateConflict,
    AlertError,
    InvalidAlertInput,
    SelfApproval,
)
from siem.alerts.model import Alert, check_user
from siem.model import Detection, ResponseAction, ResponseKind
from siem.responses.model import (
    FINAL_STATES,
    SYSTEM_ACTOR,
    ActionFilter,
    ActionRecord,
    ActionState,
)
from siem.responses.ports import ActionStore, IdentityResponder, ResponseAudit, SealResponder

log = logging.getLogger("siem.responses")

#: The entity field each kind acts on unless the rule names another.
DEFAULT_TARGET = {
    ResponseKind.DISABLE_USER: "user.name",
    ResponseKind.END_SESSIONS: "user.name",
    ResponseKind.SUSPEND_SEAL: "resource.id",
}


class ResponseService:
    """Plans, approves, rejects and executes response actions."""

    def __init__(
        self,
        store: ActionStore,
        *,
        identity: IdentityResponder | None,
        seals: SealResponder | None,
        audit: ResponseAudit,
        clock: Callable[[], dt.datetime],
        new_id: Callable[[], str],
        alerts: Callable[[str], Alert],
    ) -> None:
        self.store = store
        self._identity = identity
        self._seals = seals
        self._audit = audit
        self._clock = clock
        self._new_id = new_id
        self._alerts = alerts

    # -- planning ------------------------------------------------------------------------------

    def plan(self, alert: Alert, detection: Detection) -> list[ActionRecord]:
        """New-alert hook: the rule's declared actions, run now or left pending approval."""
        planned = []
        for declared in detection.responses:
            record = self._new(alert, declared.kind, declared.target, SYSTEM_ACTOR, declared)
            if record is None:
                log.warning(
                    "alert %s: no %s in the entity for %s", alert.id, declared.target, declared.kind
                )
                continue
            planned.append(self._submit(record))
        return planned

    def request(
        self,
        alert_id: str,
        kind: ResponseKind,
        actor: str,
        target_field: str = "",
        *,
        actor_id: str = "",
    ) -> ActionRecord:
        """An analyst asks for an action on an alert; it always waits for a second person.

        ``actor_id`` is the requester's token subject: the same person may be named by their
        username in one token and by their subject in another, so four-eyes compares both.
        """
        check_user(actor, "actor")
        alert = self._alerts(alert_id)
        field = target_field or DEFAULT_TARGET[kind]
        record = self._new(alert, kind, field, actor, None)
        if record is None:
            raise InvalidAlertInput(f"the alert's entity has no {field}", field="target_field")
        return self._submit(record.evolve(requested_by_id=actor_id))

    def _new(
        self,
        alert: Alert,
        kind: ResponseKind,
        field: str,
        actor: str,
        declared: ResponseAction | None,
    ) -> ActionRecord | None:
        target = dict(alert.entity).get(field)
        if not target:
            return None
        return ActionRecord(
            id=self._new_id(),
            alert_id=alert.id,
            rule_id=alert.rule_id,
            kind=kind,
            target_field=field,
            target=target,
            state=ActionState.PENDING,
            approval_required=declared.approval if declared is not None else True,
            requested_by=actor,
            requested_at=self._clock(),
        )

    def _submit(self, record: ActionRecord) -> ActionRecord:
        self._audit.record("requested", record, record.requested_by, "success")
        stored = self.store.add(record)
        if stored.approval_required:
            return stored
        approved = self._decide(stored, ActionState.APPROVED, f"rule:{stored.rule_id}", "")
        return self._execute(approved)

    # -- decisions -----------------------------------------------------------------------------

    def get(self, action_id: str) -> ActionRecord:
        record = self.store.get(action_id)
        if record is None:
            raise ActionNotFound(f"no response action {action_id[:64]!r}")
        return record

    def list(self, criteria: ActionFilter) -> Sequence[ActionRecord]:
        return self.store.find(criteria)

    def approve(self, action_id: str, actor: str, *, actor_id: str = "") -> ActionRecord:
        """Four-eyes approval, then execution; returns the executed (or failed) action."""
        record = self._pending(action_id, actor, actor_id)
        approved = self._decide(record, ActionState.APPROVED, actor, "")
        return self._execute(approved)

    def reject(
        self, action_id: str, actor: str, reason: str, *, actor_id: str = ""
    ) -> ActionRecord:
        """Refuse a pending action (the reason is kept and audited)."""
        if not reason.strip() or len(reason) > 1000:  # noqa: PLR2004 - documented bound
            raise InvalidAlertInput(
                "a rejection needs a reason (at most 1000 characters)", field="reason"
            )
        record = self._pending(action_id, actor, actor_id)
        return self._decide(record, ActionState.REJECTED, actor, reason)

    def _pending(self, action_id: str, actor: str, actor_id: str) -> ActionRecord:
        check_user(actor, "actor")
        record = self.get(action_id)
        if record.state is not ActionState.PENDING:
            raise ActionStateConflict(f"the action is {record.state.value}, not pending")
        same_id = bool(actor_id) and actor_id == record.requested_by_id
        if same_id or actor in {record.requested_by, record.requested_by_id}:
            raise SelfApproval("another analyst or platform admin must decide")
        return record

    def _decide(
        self, record: ActionRecord, state: ActionState, actor: str, reason: str
    ) -> ActionRecord:
        decided = record.evolve(
            state=state, decided_by=actor, decided_at=self._clock(), reason=reason
        )
        stored = self.store.replace(decided)  # a concurrent decision loses here
        self._audit.record(state.value, stored, actor, "success")
        return stored

    def _execute(self, record: ActionRecord) -> ActionRecord:
        assert record.state is ActionState.APPROVED  # noqa: S101 - internal invariant
        try:
            result = self._run(record)
        except AlertError as exc:
            done = record.evolve(
                state=ActionState.FAILED, error=exc.code, executed_at=self._clock()
            )
            outcome = "failure"
        else:
            done = record.evolve(
                state=ActionState.EXECUTED, result=result, executed_at=self._clock()
            )
            outcome = "success"
        stored = self.store.replace(done)
        self._audit.record("executed", stored, record.decided_by, outcome)
        return stored

    def _run(self, record: ActionRecord) -> str:
        if record.kind is ResponseKind.SUSPEND_SEAL:
            if self._seals is None:
                raise ActionStateConflict("the seal registry is not enabled")
            self._seals.suspend_seal(record.target)
            return "seal suspended"
        if self._identity is None:
            raise ActionStateConflict("no identity provider is configured for responses")
        if record.kind is ResponseKind.DISABLE_USER:
            self._identity.disable_user(record.target)
            return "user disabled"
        ended = self._identity.end_sessions(record.target)
        return f"{ended} session(s) ended"


def is_final(record: ActionRecord) -> bool:
    return record.state in FINAL_STATES
