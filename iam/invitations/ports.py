"""What invitations need of the identity provider beyond the org directory, and of the audit trail.

The directory (:class:`iam.orgs.ports.OrgDirectory`) stores people; :class:`Accounts` gives
them credentials (Keycloak's admin API, or memory in tests). :class:`InvitationAudit` is where
each act is recorded: the composition root adapts the audit recorder to it (``iam`` does not
import ``audit``); raising makes the act fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from iam.invitations.model import PendingLink
from iam.orgs.model import Person


class Accounts(Protocol):
    def smtp_configured(self) -> bool:
        """The realm can send e-mail (Keycloak's SMTP settings name a host)."""
        ...

    def has_password(self, person_id: str) -> bool:
        """The person holds a password credential (temporary or not): activated."""
        ...

    def pending_link(self, person_id: str) -> PendingLink | None: ...

    def set_pending_link(self, person_id: str, link: PendingLink | None) -> None: ...

    def set_password(self, person_id: str, password: str, *, temporary: bool) -> None: ...

    def set_required_actions(self, person_id: str, actions: Sequence[str]) -> None:
        """Adds ``actions`` to what Keycloak asks at the next sign-in (keeps others)."""
        ...

    def send_actions_email(
        self, person_id: str, actions: Sequence[str], lifespan_seconds: int
    ) -> None:
        """Keycloak's execute-actions e-mail (``PUT users/{id}/execute-actions-email``)."""
        ...

    def disable(self, person_id: str) -> None: ...

    def role_holders(self, role: str) -> list[str]:
        """Ids of the people holding the realm role ``role`` directly (at most a few)."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class AuditActor:
    """Who acted: a person (token subject and name), or an operator command (no subject)."""

    subject: str
    name: str


class InvitationAudit(Protocol):
    def record(
        self, action: str, actor: AuditActor, target: Person, labels: dict[str, str]
    ) -> None:
        """Record durably before returning; raise when it cannot be recorded."""
        ...
