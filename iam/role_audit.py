"""Role changes as audit facts: every grant and revocation Anbao makes, or refuses, is recorded.

``iam`` may not import ``audit`` (the style's dependency direction), so the services report a
:class:`RoleChange` to a :class:`RoleAudit` port and the composition root writes it to the audit
trail (``anbao.wiring.role_audit``) with the field names the rule pack reads
(``siem/rules/privilege.yml``): ``event.action`` ``iam.role.grant`` / ``iam.role.revoke``,
``user.name`` the actor, ``resource.name`` the target's username, ``labels.role`` the role and,
for an app's client role, ``labels.client_id`` the app. A refusal is recorded too (outcome
``failure``, ``event.reason`` the error's stable code): who tried is the analyst's question.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Protocol

#: ``event.reason`` of a refused grant to oneself (``anbao_role_self_grant`` matches it).
SELF_GRANT = "role_self_grant"


class RoleAction(enum.StrEnum):
    GRANT = "iam.role.grant"
    REVOKE = "iam.role.revoke"


@dataclasses.dataclass(frozen=True, slots=True)
class RoleChange:
    """One grant or revocation as it happened (``reason`` empty) or was refused (error code)."""

    action: RoleAction
    actor_id: str
    actor_username: str
    actor_roles: frozenset[str]
    target_id: str
    target_username: str
    role: str
    #: The target's primary org path: the analysts of the target's org see the event.
    org_path: str = ""
    #: The app whose client role it is; empty for a platform (realm) role.
    client_id: str = ""
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.reason


class RoleAudit(Protocol):
    """Where role changes go; returns once the record is durable (fail closed)."""

    def record(self, change: RoleChange) -> None: ...


class NoRoleAudit:
    """For callers that hold no audit trail (the operator's in-process tools, unit tests)."""

    def record(self, change: RoleChange) -> None:
        del change
