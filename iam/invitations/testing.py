"""In-memory fakes of the invitation ports, for unit tests (never imported by production code)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from iam.invitations.model import PendingLink
from iam.invitations.ports import AuditActor
from iam.orgs.model import Person
from iam.orgs.testing import InMemoryOrgDirectory


@dataclasses.dataclass
class InMemoryAccounts:
    """Credentials beside an :class:`InMemoryOrgDirectory` (roles are read from it)."""

    directory: InMemoryOrgDirectory
    smtp: bool = False
    passwords: dict[str, tuple[str, bool]] = dataclasses.field(default_factory=dict)
    links: dict[str, PendingLink] = dataclasses.field(default_factory=dict)
    actions: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    mails: list[tuple[str, tuple[str, ...], int]] = dataclasses.field(default_factory=list)

    def smtp_configured(self) -> bool:
        return self.smtp

    def has_password(self, person_id: str) -> bool:
        return person_id in self.passwords

    def pending_link(self, person_id: str) -> PendingLink | None:
        return self.links.get(person_id)

    def set_pending_link(self, person_id: str, link: PendingLink | None) -> None:
        if link is None:
            self.links.pop(person_id, None)
        else:
            self.links[person_id] = link

    def set_password(self, person_id: str, password: str, *, temporary: bool) -> None:
        self.passwords[person_id] = (password, temporary)

    def set_required_actions(self, person_id: str, actions: Sequence[str]) -> None:
        current = self.actions.setdefault(person_id, [])
        current += [a for a in actions if a not in current]

    def send_actions_email(
        self, person_id: str, actions: Sequence[str], lifespan_seconds: int
    ) -> None:
        self.mails.append((person_id, tuple(actions), lifespan_seconds))

    def disable(self, person_id: str) -> None:
        person = self.directory.people[person_id]
        self.directory.people[person_id] = dataclasses.replace(person, enabled=False)

    def role_holders(self, role: str) -> list[str]:
        return [p.id for p in self.directory.people.values() if role in p.roles]


@dataclasses.dataclass
class ListAudit:
    """Records ``(action, actor, target username, labels)``; ``fail`` makes it refuse."""

    events: list[tuple[str, AuditActor, str, dict[str, str]]] = dataclasses.field(
        default_factory=list
    )
    fail: bool = False

    def record(
        self, action: str, actor: AuditActor, target: Person, labels: dict[str, str]
    ) -> None:
        if self.fail:
            raise RuntimeError("audit trail unavailable")
        self.events.append((action, actor, target.username, dict(labels)))
