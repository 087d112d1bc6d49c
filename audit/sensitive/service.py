"""Reveal: decrypt an event's personal data for an authorized analyst, and audit that it happened.

Policy (decided here, enforced by the resource and this service):

* Only the ``security-analyst`` role may reveal, and only after a step-up sign-in (``acr`` >= 2,
  RFC 9470): reading personal data is rarer and riskier than searching. ``auditor`` reviews
  the trail and its integrity but sees personal data masked (least privilege, PIPL art. 51).
* An analyst scoped to an organization (``org_path``) reveals only events of its subtree; other
  events answer as not found, so their existence is not disclosed either.
* A reason is mandatory, and the reveal is itself recorded (``audit.pii.reveal``) *before* any
  plaintext is returned: if the audit event cannot be made durable, nothing is revealed
  (fail closed, MLPS L3-CES1-12: "important security events" are audited).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

from audit.errors import AuditError
from audit.model import AuditEvent, Outcome, ResourceRef, UserInfo
from audit.ports import AuditStore
from audit.sensitive.masking import FieldCipher, SensitiveDataError

REVEAL_ROLE: Final = "security-analyst"
REVEAL_ACR: Final = "2"
REVEAL_ACTION: Final = "audit.pii.reveal"
_MAX_REASON: Final = 500


class AuditEventNotFound(AuditError):
    code = "audit_event_not_found"
    title = "Audit event not found"


@dataclasses.dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, as the composition root extracted it from the verified token."""

    id: str
    name: str
    roles: tuple[str, ...]
    org_path: str = ""
    source_ip: str = ""
    trace_id: str = ""
    #: The live org scope's path, resolved by the identity authority from the caller's binding
    #: (``/``: everything, ``""``: nothing). ``org_path`` (the token's claim) is only recorded.
    scope_path: str = ""


_DOT_SEGMENTS = frozenset({"", ".", ".."})


def in_scope(scope_path: str, event_org: str) -> bool:
    """True when the event lies in the scope's subtree (``/``: everything; ``""``: nothing).

    Segment-wise (``/a/b`` never covers ``/a/bc``), and an event path with an empty, ``.`` or
    ``..`` segment below the scope belongs to no subtree.
    """
    if scope_path == "/":
        return True
    if not scope_path.startswith("/") or not event_org.startswith("/"):
        return False
    prefix = scope_path.rstrip("/")
    if event_org == prefix:
        return True
    rest = event_org.removeprefix(prefix + "/")
    return rest != event_org and not _DOT_SEGMENTS & set(rest.split("/"))


class RevealRecorder(Protocol):
    """Where the reveal's own event goes (the audit recorder): built, then durable or raising.

    A port rather than the recorder's class, so the reveal depends on what it asks of the
    trail and not on the request path that implements it (no cycle between the rooms).
    """

    def event(
        self,
        action: str,
        outcome: Outcome | str,
        *,
        category: Sequence[str],
        type: Sequence[str],
        reason: str,
        user: UserInfo | None,
        org_path: str,
        source_ip: str,
        trace_id: str,
        resource: ResourceRef | None,
        labels: Mapping[str, str] | None,
    ) -> AuditEvent: ...

    def record_event(self, event: AuditEvent) -> AuditEvent: ...


class RevealService:
    def __init__(self, store: AuditStore, cipher: FieldCipher, recorder: RevealRecorder) -> None:
        self._store = store
        self._cipher = cipher
        self._recorder = recorder

    def reveal(
        self, actor: Actor, event_id: str, *, reason: str, fields: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Decrypt ``fields`` (default: all present) of one event; records the access first."""
        reason = reason.strip()
        if not reason or len(reason) > _MAX_REASON:
            raise SensitiveDataError(f"A reason of 1-{_MAX_REASON} characters is required.")
        document = self._store.get(event_id)
        org = document.get("organization", {}).get("path", "") if document else ""
        if document is None or not in_scope(actor.scope_path, str(org)):
            raise AuditEventNotFound(f"No audit event {event_id} in your scope.")
        requested = sorted(set(fields))
        try:
            self._cipher.reveal(document, requested)  # validate before recording success
        except SensitiveDataError:
            self._record(actor, event_id, reason, requested, Outcome.FAILURE)
            raise
        self._record(actor, event_id, reason, requested, Outcome.SUCCESS)
        return {"event_id": event_id, "fields": self._cipher.reveal(document, requested)}

    def _record(
        self,
        actor: Actor,
        event_id: str,
        reason: str,
        fields: Sequence[str],
        outcome: Outcome,
    ) -> None:
        event = self._recorder.event(
            REVEAL_ACTION,
            outcome,
            category=("iam",),
            type=("access",),
            reason=reason,
            user=UserInfo(actor.id, actor.name, actor.roles),
            org_path=actor.org_path,
            source_ip=actor.source_ip,
            trace_id=actor.trace_id,
            resource=ResourceRef("audit_event", event_id),
            labels={"fields": ",".join(fields) or "all"},
        )
        self._recorder.record_event(event)
