"""App onboarding use cases: register, list, describe, update, disable, rotate the secret.

Who may do what: ``app-developer`` and ``platform-admin`` may register. A developer sees and
changes only the apps they registered (the owner is recorded at registration); a platform
admin sees and changes all apps registered through Anbao. An ``org-admin`` sees them all too
(read only): they give the apps' roles to the people of their subtree (:mod:`iam.apps.roles`).
Clients created any other way (Keycloak's own, the platform's) are invisible here, so the API
cannot be used to reconfigure them. An app the caller may not see answers "not found", never
"forbidden", so ids cannot be probed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from iam.apps.model import (
    MAX_ROLES,
    ROLE_NAME,
    App,
    AppCredentials,
    AppKind,
    AppRegistration,
    AppUpdate,
    ClientAuth,
    RoleHolder,
)
from iam.errors import AppNotOwned, Conflict, Forbidden, IamError, InvalidRequest, NotFound
from iam.tokens.model import Principal

DEVELOPER_ROLES = frozenset({"app-developer", "platform-admin"})
ADMIN_ROLE = "platform-admin"
ORG_ADMIN_ROLE = "org-admin"
#: Who may read the app list: developers, and org-admins who give the apps' roles.
READER_ROLES = DEVELOPER_ROLES | {ORG_ADMIN_ROLE}


class AppDirectory(Protocol):
    """Where apps live (Keycloak clients in production)."""

    def scope_names(self) -> frozenset[str]: ...

    def exists(self, client_id: str) -> bool: ...

    def create(self, reg: AppRegistration, *, owner: str, created_at: int) -> str | None:
        """Create the client; return its secret for ``client_secret`` apps."""
        ...

    def get(self, client_id: str) -> App | None:
        """The managed app of that id (with scopes and roles), or ``None``."""
        ...

    def delete(self, client_id: str) -> None:
        """Remove a managed app's client (undoes a registration that could not complete)."""
        ...

    def list(self) -> Iterable[App]: ...

    def update(self, client_id: str, update: AppUpdate) -> None: ...

    def rotate_secret(self, client_id: str) -> str: ...

    def add_role(self, client_id: str, role: str) -> None:
        """Define a client role on the app (idempotent)."""
        ...

    def role_holders(self, client_id: str, role: str) -> Sequence[RoleHolder]:
        """Who holds the app's client role ``role`` (directly)."""
        ...

    def held_roles(self, client_id: str, user_id: str) -> frozenset[str]:
        """The app's client roles ``user_id`` holds (directly)."""
        ...

    def grant_role(self, client_id: str, role: str, user_id: str) -> None: ...

    def revoke_role(self, client_id: str, role: str, user_id: str) -> None: ...


class AppService:
    def __init__(
        self,
        directory: AppDirectory,
        *,
        issuer: str,
        clock: Callable[[], float],
    ) -> None:
        self._directory = directory
        self._issuer = issuer.rstrip("/")
        self._clock = clock

    @property
    def discovery_url(self) -> str:
        return self._issuer + "/.well-known/openid-configuration"

    def register(self, caller: Principal, reg: AppRegistration) -> AppCredentials:
        _ensure_developer(caller)
        unknown = [s for s in reg.scopes if s not in self._directory.scope_names()]
        if unknown:
            raise InvalidRequest(
                [
                    (f"scopes[{reg.scopes.index(s)}]", f"no client scope named {s!r}")
                    for s in unknown
                ]
            )
        if self._directory.exists(reg.client_id):
            raise Conflict(f"An app with client_id {reg.client_id!r} already exists.")
        secret = self._directory.create(reg, owner=caller.subject, created_at=int(self._clock()))
        try:
            return self._credentials(self._created(reg.client_id), secret)
        except BaseException:
            # Atomic: the one-time secret can no longer reach the caller, so no client may
            # remain that nobody holds the credentials of.
            with contextlib.suppress(IamError):
                self._directory.delete(reg.client_id)
            raise

    def _created(self, client_id: str) -> App:
        app = self._directory.get(client_id)
        if app is None:
            raise NotFound("The app vanished right after registration.")
        return app

    def list(self, caller: Principal) -> list[App]:
        _ensure_reader(caller)
        apps = self._directory.list()
        return sorted(
            (a for a in apps if _may_see(caller, a)), key=lambda a: (a.created_at, a.client_id)
        )

    def describe(self, caller: Principal, client_id: str) -> App:
        _ensure_reader(caller)
        app = self._directory.get(client_id)
        if app is None or not _may_see(caller, app):
            raise NotFound(f"No app with client_id {client_id!r}.")
        return app

    def _owned(self, caller: Principal, client_id: str) -> App:
        """The app, if the caller may change it: its owner or a platform admin."""
        app = self.describe(caller, client_id)
        if not _may_change(caller, app):
            raise AppNotOwned(
                f"You do not own the app {client_id!r}: only its owner or a platform-admin "
                "changes it (you may give its roles to the people of your subtree)."
            )
        return app

    def update(self, caller: Principal, client_id: str, update: AppUpdate) -> App:
        app = self._owned(caller, client_id)
        emptied = update.redirect_uris is not None and not update.redirect_uris
        if emptied and (app.kind is AppKind.PUBLIC or not app.service_account):
            raise InvalidRequest([("redirect_uris", "this app needs at least one")])
        self._directory.update(client_id, update)
        return self.describe(caller, client_id)

    def add_role(self, caller: Principal, client_id: str, role: str) -> App:
        """Define one more role on the app (its owner or a platform-admin); idempotent."""
        app = self._owned(caller, client_id)
        if not ROLE_NAME.fullmatch(role):
            raise InvalidRequest([("name", f"must match {ROLE_NAME.pattern}")])
        if role not in app.roles and len(app.roles) >= MAX_ROLES:
            raise InvalidRequest([("name", f"an app has at most {MAX_ROLES} roles")])
        self._directory.add_role(client_id, role)
        return self.describe(caller, client_id)

    def disable(self, caller: Principal, client_id: str) -> App:
        return self.update(caller, client_id, AppUpdate(enabled=False))

    def rotate_secret(self, caller: Principal, client_id: str) -> AppCredentials:
        app = self._owned(caller, client_id)
        if app.auth is not ClientAuth.CLIENT_SECRET:
            raise InvalidRequest(
                [("auth_method", f"a {app.auth.value} app has no client secret to rotate")]
            )
        return self._credentials(app, self._directory.rotate_secret(client_id))

    def _credentials(self, app: App, secret: str | None) -> AppCredentials:
        return AppCredentials(
            app=app, issuer=self._issuer, discovery_url=self.discovery_url, client_secret=secret
        )


def _ensure_developer(caller: Principal) -> None:
    if not caller.roles & DEVELOPER_ROLES:
        raise Forbidden("Registering apps needs the app-developer or platform-admin role.")


def _ensure_reader(caller: Principal) -> None:
    if not caller.roles & READER_ROLES:
        raise Forbidden("Reading apps needs the app-developer, org-admin or platform-admin role.")


def _may_change(caller: Principal, app: App) -> bool:
    return ADMIN_ROLE in caller.roles or app.owner == caller.subject


def _may_see(caller: Principal, app: App) -> bool:
    return _may_change(caller, app) or ORG_ADMIN_ROLE in caller.roles
