"""Role grants and revocations (the org tree's platform roles, the apps' client roles) as
audit events, with the fields the rule pack reads (``siem/rules/privilege.yml``).

``iam`` reports a :class:`~iam.role_audit.RoleChange` and knows nothing of ``audit``; this
composition root writes it as an ECS event and returns once it is durable, so a grant is never
answered before its record exists.
"""

from __future__ import annotations

from collections.abc import Callable

from audit.model import ResourceRef, UserInfo
from audit.recording.recorder import Recorder
from iam.role_audit import RoleChange


class RecorderRoleAudit:
    """:class:`iam.role_audit.RoleAudit` on the audit recorder."""

    def __init__(self, recorder: Callable[[], Recorder]) -> None:
        self._recorder = recorder

    def record(self, change: RoleChange) -> None:
        """``user`` is the actor, ``resource`` the target person, ``labels.role`` the role."""
        recorder = self._recorder()
        labels = {"role": change.role}
        if change.client_id:
            labels["client_id"] = change.client_id
        recorder.record_event(
            recorder.event(
                change.action.value,
                "success" if change.succeeded else "failure",
                category=("iam",),
                type=("change",) if change.succeeded else ("change", "denied"),
                reason=change.reason,
                user=UserInfo(
                    change.actor_id, change.actor_username, tuple(sorted(change.actor_roles))
                ),
                org_path=change.org_path,
                resource=ResourceRef("user", change.target_id, change.target_username),
                labels=labels,
            )
        )
