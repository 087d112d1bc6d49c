"""An in-memory :class:`~iam.apps.service.AppDirectory` for unit tests of the onboarding rules."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence

from iam.apps.model import App, AppRegistration, AppUpdate, ClientAuth, RoleHolder
from iam.errors import NotFound
from iam.role_audit import RoleChange

KEYCLOAK_BUILTIN_SCOPES = frozenset(
    {"openid", "profile", "email", "roles", "web-origins", "acr", "basic", "offline_access"}
)


class MemoryAppDirectory:
    def __init__(self, scopes: frozenset[str] = KEYCLOAK_BUILTIN_SCOPES) -> None:
        self.scopes = scopes
        self.apps: dict[str, App] = {}
        self.secrets: dict[str, str] = {}
        #: Clients that exist but were not registered through Anbao (Keycloak's own).
        self.unmanaged = {"admin-cli", "legacy-portal"}
        #: (client_id, role) -> {user id: username}
        self.holders: dict[tuple[str, str], dict[str, str]] = {}
        #: user id -> username, for the holder list (the org directory's people)
        self.usernames: dict[str, str] = {}

    def scope_names(self) -> frozenset[str]:
        return self.scopes

    def exists(self, client_id: str) -> bool:
        return client_id in self.apps or client_id in self.unmanaged

    def create(self, reg: AppRegistration, *, owner: str, created_at: int) -> str | None:
        self.apps[reg.client_id] = App(
            client_id=reg.client_id,
            name=reg.name,
            description=reg.description,
            kind=reg.kind,
            auth=reg.auth,
            enabled=True,
            redirect_uris=reg.redirect_uris,
            service_account=reg.service_account,
            owner=owner,
            created_at=created_at,
            scopes=reg.scopes,
            roles=tuple(sorted(reg.roles)),
            jwks_url=reg.jwks_url,
        )
        if reg.auth is ClientAuth.CLIENT_SECRET:
            self.secrets[reg.client_id] = secrets.token_urlsafe(24)
            return self.secrets[reg.client_id]
        return None

    def get(self, client_id: str) -> App | None:
        return self.apps.get(client_id)

    def delete(self, client_id: str) -> None:
        self.apps.pop(client_id, None)
        self.secrets.pop(client_id, None)

    def list(self) -> list[App]:
        return list(self.apps.values())

    def update(self, client_id: str, update: AppUpdate) -> None:
        app = self.apps.get(client_id)
        if app is None:
            raise NotFound("no such app")
        changes = {
            k: v
            for k, v in dataclasses.asdict(update).items()
            if v is not None and k in {"name", "description", "enabled", "redirect_uris"}
        }
        self.apps[client_id] = dataclasses.replace(app, **changes)

    def rotate_secret(self, client_id: str) -> str:
        self.secrets[client_id] = secrets.token_urlsafe(24)
        return self.secrets[client_id]

    def add_role(self, client_id: str, role: str) -> None:
        app = self.apps.get(client_id)
        if app is None:
            raise NotFound("no such app")
        roles = tuple(sorted({*app.roles, role}))
        self.apps[client_id] = dataclasses.replace(app, roles=roles)

    def role_holders(self, client_id: str, role: str) -> Sequence[RoleHolder]:
        held = self.holders.get((client_id, role), {})
        return sorted((RoleHolder(i, u) for i, u in held.items()), key=lambda h: h.username)

    def held_roles(self, client_id: str, user_id: str) -> frozenset[str]:
        return frozenset(
            r for (c, r), held in self.holders.items() if c == client_id and user_id in held
        )

    def grant_role(self, client_id: str, role: str, user_id: str) -> None:
        self.holders.setdefault((client_id, role), {})[user_id] = self.usernames.get(
            user_id, user_id
        )

    def revoke_role(self, client_id: str, role: str, user_id: str) -> None:
        self.holders.get((client_id, role), {}).pop(user_id, None)


class RecordedRoleChanges:
    """A :class:`~iam.role_audit.RoleAudit` that keeps what it is told, for assertions."""

    def __init__(self) -> None:
        self.changes: list[RoleChange] = []

    def record(self, change: RoleChange) -> None:
        self.changes.append(change)
