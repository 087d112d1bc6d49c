"""An app's client roles and who holds them, given and taken through Anbao (issue 17 §3).

Who may give (and take) an app's roles, decided from the live directory for each call:

* a ``platform-admin``: any role of any app registered through Anbao, to anybody;
* the app's owner (who registered it, while they still hold ``app-developer``): its roles, to
  anybody — the roles mean something to the owner's app only (its tokens carry only its own
  client roles, ``fullScopeAllowed`` off);
* an ``org-admin`` bound to a node: any app's roles, to the people whose memberships all lie in
  the bound subtree (the one org-scope authority, :mod:`iam.orgs.scope`); anybody else is "not
  found", so the tree outside does not leak.

Nobody gives or takes their own roles (also not an owner: ask an org-admin), the same rule as
the org tree's delegation. Every change and every refusal is reported to the
:class:`~iam.role_audit.RoleAudit` port.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from iam.apps.model import App, AppRole, RoleHolder
from iam.apps.service import DEVELOPER_ROLES, AppDirectory
from iam.errors import (
    AppRoleNotFound,
    Forbidden,
    IamError,
    NotFound,
    PersonNotFound,
    SelfGrantDenied,
)
from iam.orgs.delegation import ORG_ADMIN, PLATFORM_ADMIN
from iam.orgs.errors import InvalidOrgInput, OrgNotFound
from iam.orgs.model import Person
from iam.orgs.ports import OrgDirectory
from iam.orgs.scope import OrgScope, resolve_scope
from iam.role_audit import RoleAction, RoleAudit, RoleChange
from iam.tokens.model import Principal


@dataclasses.dataclass(frozen=True, slots=True)
class _Caller:
    """The caller as the live directory knows them, and the people they may give roles to."""

    person: Person
    everyone: bool
    scope: OrgScope


class AppRoleService:
    def __init__(self, apps: AppDirectory, people: OrgDirectory, audit: RoleAudit) -> None:
        self._apps = apps
        self._people = people
        self._audit = audit

    # -- reading -----------------------------------------------------------------------------
    def roles(self, principal: Principal, client_id: str) -> list[AppRole]:
        """The app's roles with the holders the caller may see (an org-admin: their subtree)."""
        app, caller = self._app(self._caller(principal), client_id)
        return [
            AppRole(
                role,
                tuple(h for h in self._apps.role_holders(client_id, role) if self._sees(caller, h)),
            )
            for role in app.roles
        ]

    def _sees(self, caller: _Caller, holder: RoleHolder) -> bool:
        if caller.everyone:
            return True
        person = self._people.get_person(holder.id)
        return person is not None and self._within(caller.scope, person)

    # -- changing ----------------------------------------------------------------------------
    def grant(self, principal: Principal, client_id: str, role: str, user: str) -> RoleHolder:
        """Give ``user`` (a username or id) the app's ``role``; idempotent."""

        def work(target: Person) -> None:
            if role not in self._apps.held_roles(client_id, target.id):
                self._apps.grant_role(client_id, role, target.id)

        target = self._change(RoleAction.GRANT, principal, client_id, role, user, work)
        return RoleHolder(target.id, target.username)

    def revoke(self, principal: Principal, client_id: str, role: str, user: str) -> None:
        """Take the app's ``role`` from ``user`` (an id or username); 404 if not held."""

        def work(target: Person) -> None:
            if role not in self._apps.held_roles(client_id, target.id):
                raise AppRoleNotFound(
                    f"{target.username!r} does not hold the role {role!r} of the app {client_id!r}."
                )
            self._apps.revoke_role(client_id, role, target.id)

        self._change(RoleAction.REVOKE, principal, client_id, role, user, work)

    def _change(  # noqa: PLR0917 - one change, named in full
        self,
        action: RoleAction,
        principal: Principal,
        client_id: str,
        role: str,
        user: str,
        work: Callable[[Person], None],
    ) -> Person:
        caller: _Caller | None = None
        target: Person | None = None
        try:
            app, caller = self._app(self._caller(principal), client_id)
            if role not in app.roles:
                have = ", ".join(app.roles) or "none"
                raise AppRoleNotFound(
                    f"The app {client_id!r} has no role {role!r} (its roles: {have})."
                )
            target = self._target(caller, user)
            if target.id == caller.person.id:
                raise SelfGrantDenied(
                    "Nobody grants or revokes their own roles: ask the app's owner or an "
                    "org-admin of your org."
                )
            work(target)
        except IamError as exc:
            self._record(action, principal, caller, target, user, client_id, role, exc.code)
            raise
        self._record(action, principal, caller, target, user, client_id, role, "")
        return target

    def _record(  # noqa: PLR0917 - the fields of one audit record
        self,
        action: RoleAction,
        principal: Principal,
        caller: _Caller | None,
        target: Person | None,
        user: str,
        client_id: str,
        role: str,
        reason: str,
    ) -> None:
        self._audit.record(
            RoleChange(
                action=action,
                actor_id=principal.subject,
                actor_username=principal.username,
                actor_roles=caller.person.roles if caller else principal.roles,
                target_id=target.id if target else "",
                target_username=target.username if target else user,
                role=role,
                org_path=target.org_path if target else "",
                client_id=client_id,
                reason=reason,
            )
        )

    # -- who and what ------------------------------------------------------------------------
    def _caller(self, principal: Principal) -> _Caller:
        person = self._people.get_person(principal.subject) if principal.subject else None
        if person is None or not person.enabled:
            raise Forbidden("Giving app roles needs a person of the realm.")
        if PLATFORM_ADMIN in person.roles:
            return _Caller(person, everyone=True, scope=OrgScope.everything())
        scope = OrgScope.nothing()
        if ORG_ADMIN in person.roles:
            scope = resolve_scope(self._people, person.id)
        return _Caller(person, everyone=False, scope=scope)

    def _app(self, caller: _Caller, client_id: str) -> tuple[App, _Caller]:
        """The app and the caller's reach for it: its owner reaches everyone, an org-admin
        their subtree; for anybody else the app does not exist."""
        app = self._apps.get(client_id)
        # An owner whose developer role was taken away owns nothing any more.
        developer = bool(caller.person.roles & DEVELOPER_ROLES)
        owner = app is not None and app.owner == caller.person.id and developer
        if app is None or not (caller.everyone or owner or not caller.scope.empty):
            raise NotFound(f"No app with client_id {client_id!r}.")
        return app, dataclasses.replace(caller, everyone=caller.everyone or owner)

    def _target(self, caller: _Caller, user: str) -> Person:
        person = self._find(user)
        if person is not None and (caller.everyone or self._within(caller.scope, person)):
            return person
        where = "" if caller.everyone else " in your part of the org tree"
        raise PersonNotFound(f"No person {user!r}{where}.")

    def _find(self, user: str) -> Person | None:
        try:
            return self._people.find_person(user) or self._people.get_person(user)
        except (InvalidOrgInput, OrgNotFound):
            return None

    def _within(self, scope: OrgScope, person: Person) -> bool:
        """All the person's memberships lie in ``scope`` (as the delegation's rule)."""
        nodes = [self._people.get_node(i) for i in person.memberships]
        return bool(nodes) and all(n is not None and scope.covers_node(n) for n in nodes)
