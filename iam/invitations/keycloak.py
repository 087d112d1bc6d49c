"""Credentials through Keycloak's admin API (the :class:`~iam.invitations.ports.Accounts` port).

Uses the org directory's admin client (one pool, one token cache, Keycloak's text never passed
on). Attribute writes read the user first and put the whole representation back: a PUT
replaces every attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iam.admin.rest import KeycloakAdminClient, segment
from iam.invitations.model import PendingLink
from iam.orgs.errors import OrgNotFound
from iam.orgs.model import INVITATION_ATTRIBUTE


class KeycloakAccounts:
    def __init__(self, admin: KeycloakAdminClient) -> None:
        self.admin = admin

    def smtp_configured(self) -> bool:
        realm = self.admin.json("") or {}
        return bool((realm.get("smtpServer") or {}).get("host"))

    def has_password(self, person_id: str) -> bool:
        credentials = self.admin.json(f"/users/{segment(person_id)}/credentials") or []
        return any(c.get("type") == "password" for c in credentials)

    def _user(self, person_id: str) -> dict[str, Any]:
        user = self.admin.json(f"/users/{segment(person_id)}")
        if not isinstance(user, dict):
            raise OrgNotFound("No such person.")
        return user

    def _put(self, user: dict[str, Any]) -> None:
        self.admin.request("PUT", f"/users/{segment(str(user['id']))}", json=user)

    def pending_link(self, person_id: str) -> PendingLink | None:
        user = self.admin.json(f"/users/{segment(person_id)}")
        if not isinstance(user, dict):
            return None
        values = (user.get("attributes") or {}).get(INVITATION_ATTRIBUTE) or [""]
        return PendingLink.decode(str(values[0]))

    def set_pending_link(self, person_id: str, link: PendingLink | None) -> None:
        user = self._user(person_id)
        attributes = dict(user.get("attributes") or {})
        if link is None and INVITATION_ATTRIBUTE not in attributes:
            return
        if link is None:
            del attributes[INVITATION_ATTRIBUTE]
        else:
            attributes[INVITATION_ATTRIBUTE] = [link.encode()]
        user["attributes"] = attributes
        self._put(user)

    def set_password(self, person_id: str, password: str, *, temporary: bool) -> None:
        body = {"type": "password", "value": password, "temporary": temporary}
        self.admin.request("PUT", f"/users/{segment(person_id)}/reset-password", json=body)

    def set_required_actions(self, person_id: str, actions: Sequence[str]) -> None:
        user = self._user(person_id)
        current = list(user.get("requiredActions") or [])
        wanted = current + [a for a in actions if a not in current]
        if wanted != current:
            user["requiredActions"] = wanted
            self._put(user)

    def send_actions_email(
        self, person_id: str, actions: Sequence[str], lifespan_seconds: int
    ) -> None:
        self.admin.request(
            "PUT",
            f"/users/{segment(person_id)}/execute-actions-email",
            json=list(actions),
            params={"lifespan": lifespan_seconds},
        )

    def disable(self, person_id: str) -> None:
        user = self._user(person_id)
        if user.get("enabled", True):
            user["enabled"] = False
            self._put(user)

    def role_holders(self, role: str) -> list[str]:
        users = self.admin.json(f"/roles/{segment(role)}/users", {"first": 0, "max": 5}) or []
        return [str(u["id"]) for u in users]
