"""Use cases of the org tree and its people, each checked by delegated administration.

Every call names the acting user (the token's ``sub``); the actor's roles and binding are read
live from the directory, not from the token, so a revoked grant stops working at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from iam.errors import IamError, SelfGrantDenied
from iam.orgs.delegation import ORG_ADMIN, PLATFORM_ROLES, Authority
from iam.orgs.errors import InvalidOrgInput, OrgConflict, OrgNotFound
from iam.orgs.model import (
    NodeKind,
    OrgNode,
    Person,
    PersonDraft,
    check_name,
    check_placement,
    check_username_namespace,
    parse_kind,
)
from iam.orgs.ports import OrgDirectory
from iam.orgs.scope import bound_node
from iam.role_audit import NoRoleAudit, RoleAction, RoleAudit, RoleChange

MAX_PAGE = 500
#: The roles an operator's change is recorded with (the Keycloak admin account's power).
OPERATOR_ROLES = frozenset({"realm-admin"})
MAX_QUERY = 100
#: C0 and C1 control characters: never part of a name, username or address.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The target of a grant checked before its person exists (no id, no roles, no binding).
_NOBODY = Person("", "", "", "", "", True, {}, (), frozenset(), None)


class OrgService:
    def __init__(
        self, directory: OrgDirectory, *, operator: bool = False, audit: RoleAudit | None = None
    ) -> None:
        """``operator``: the CLI, which already holds Keycloak admin credentials, acts as
        platform-admin; the HTTP API never sets it. ``audit`` hears every role grant and
        revocation, and every refusal of one."""
        self.directory = directory
        self._operator = operator
        self._audit = audit or NoRoleAudit()

    def authority(self, actor_id: str) -> Authority:
        if self._operator:
            return Authority(actor_id, PLATFORM_ROLES, None)
        actor = self.directory.get_person(actor_id)
        root = None
        if actor is not None and ORG_ADMIN in actor.roles:
            root = bound_node(self.directory, actor)
        return Authority.of(actor, root)

    # -- nodes -------------------------------------------------------------------------------
    def roots(self, actor_id: str) -> list[OrgNode]:
        auth = self.authority(actor_id)
        if auth.root is not None:
            return [auth.root]
        return self.directory.roots()

    def node(self, actor_id: str, node_id: str) -> OrgNode:
        """A node by id, or by its code (what people know: ``530102``, a credit code)."""
        auth = self.authority(actor_id)
        node = self.directory.get_node(node_id) or self.directory.find_node(node_id)
        return auth.require_visible(node)

    def children(self, actor_id: str, node_id: str) -> list[OrgNode]:
        self.node(actor_id, node_id)
        return self.directory.children(node_id)

    def create_node(
        self, actor_id: str, *, parent_id: str | None, kind: str, code: str, name: str
    ) -> OrgNode:
        auth = self.authority(actor_id)
        node_kind = parse_kind(kind)
        check_name(name)
        parent = None
        if parent_id is not None:
            parent = auth.require_visible(self.directory.get_node(parent_id))
        auth.require_parent(parent)
        if parent is not None and parent.disabled:
            raise OrgConflict("The parent node is disabled.")
        check_placement(node_kind, code, parent)
        if self.directory.find_node(code) is not None:
            raise OrgConflict("A node with this code exists.")
        return self.directory.create_node(parent, node_kind, code, name)

    def update_node(
        self, actor_id: str, node_id: str, *, name: str | None, disabled: bool | None
    ) -> OrgNode:
        auth = self.authority(actor_id)
        node = auth.require_manageable(self.directory.get_node(node_id))
        if name is not None:
            check_name(name)
        return self.directory.update_node(
            node,
            name=node.name if name is None else name,
            disabled=node.disabled if disabled is None else disabled,
        )

    def move_node(self, actor_id: str, node_id: str, new_parent_id: str) -> OrgNode:
        auth = self.authority(actor_id)
        node = auth.require_manageable(self.directory.get_node(node_id))
        parent = auth.require_visible(self.directory.get_node(new_parent_id))
        if node.contains(parent):
            raise OrgConflict("A node cannot move under itself.")
        if parent.disabled:
            raise OrgConflict("The new parent node is disabled.")
        check_placement(node.kind, node.code, parent)
        moved = self.directory.move_node(node, parent)
        self._rewrite_org_paths(moved, old_prefix=node.path)
        return moved

    def _rewrite_org_paths(self, node: OrgNode, *, old_prefix: str) -> None:
        """Members' ``org_path`` follows a moved subtree (moves are rare, subtrees small)."""
        if node.path == old_prefix:
            return
        stack = [node]
        while stack:
            current = stack.pop()
            for person in self._all_members(current.id):
                if person.org_path == old_prefix or person.org_path.startswith(old_prefix + "/"):
                    self.directory.set_org_path(
                        person, node.path + person.org_path[len(old_prefix) :]
                    )
            stack.extend(self.directory.children(current.id))

    def _all_members(self, node_id: str) -> list[Person]:
        found: list[Person] = []
        while True:
            page = self.directory.members(node_id, len(found), MAX_PAGE)
            found += page
            if len(page) < MAX_PAGE:
                return found

    def members(self, actor_id: str, node_id: str, first: int, max_results: int) -> list[Person]:
        auth = self.authority(actor_id)
        auth.require_visible(self.directory.get_node(node_id))
        people = self.directory.members(node_id, max(first, 0), min(max(max_results, 1), MAX_PAGE))
        return [p for p in people if self._visible(auth, p)]

    def _visible(self, auth: Authority, person: Person) -> bool:
        try:
            auth.require_visible_person(person, self._nodes(person.memberships))
        except OrgNotFound:
            return False
        return True

    # -- people ------------------------------------------------------------------------------
    def _nodes(self, ids: Sequence[str]) -> list[OrgNode]:
        return [n for n in (self.directory.get_node(i) for i in ids) if n is not None]

    def person(self, actor_id: str, person_id: str) -> Person:
        auth = self.authority(actor_id)
        person = self.directory.get_person(person_id)
        nodes = self._nodes(person.memberships) if person else []
        return auth.require_visible_person(person, nodes)

    def manageable_person(self, actor_id: str, person_id: str) -> Person:
        """The person, if the actor may administer them (invitations: resend, revoke)."""
        return self._manageable(self.authority(actor_id), person_id)

    def search_people(
        self, actor_id: str, query: str, first: int = 0, max_results: int = 50
    ) -> list[Person]:
        """People whose username, e-mail or name contains ``query``, of those the actor sees.

        An org-admin's matches outside their subtree are dropped (not reported), as
        :meth:`members` does; a page may so hold fewer than ``max_results``.
        """
        auth = self.authority(actor_id)
        if not query or len(query) > MAX_QUERY:
            raise InvalidOrgInput("q", f"1-{MAX_QUERY} characters")
        query = query.strip()
        if not query or _CONTROL.search(query):
            return []  # blank or control characters: in no name, username or address
        size = min(max(max_results, 1), MAX_PAGE)
        people = self.directory.search_people(query, max(first, 0), size)
        return [p for p in people if self._visible(auth, p)]

    def check_grant(self, actor_id: str, role: str, node_id: str | None) -> None:
        """A grant an invitation will make, checked before the person exists."""
        auth = self.authority(actor_id)
        bind = self.directory.get_node(node_id) if node_id else None
        if node_id and bind is None:
            raise OrgNotFound("No such org node.")
        auth.require_grant(role, _NOBODY, bind)
        if not self.directory.role_exists(role):
            raise InvalidOrgInput("role", "the realm does not define this role")

    def _manageable(self, auth: Authority, person_id: str) -> Person:
        person = self.directory.get_person(person_id)
        nodes = self._nodes(person.memberships) if person else []
        bound = None
        if person is not None and person.admin_node:
            bound = self.directory.get_node(person.admin_node)
        return auth.require_manageable_person(person, nodes, bound)

    def _member_nodes(self, auth: Authority, node_ids: Sequence[str]) -> list[OrgNode]:
        if not node_ids:
            raise InvalidOrgInput("memberships", "at least one org node")
        nodes = [auth.require_visible(self.directory.get_node(i)) for i in node_ids]
        if any(n.disabled for n in nodes):
            raise OrgConflict("A disabled node takes no new members.")
        return nodes

    def create_person(
        self, actor_id: str, draft: PersonDraft, membership_ids: Sequence[str]
    ) -> Person:
        """Creates a person in the given nodes; the first is the primary (``org_path``)."""
        auth = self.authority(actor_id)
        draft.validate()
        check_username_namespace(draft.username, self.directory.reserved_username_prefixes())
        nodes = self._member_nodes(auth, membership_ids)
        if self.directory.find_person(draft.username) is not None:
            raise OrgConflict("A person with this username exists.")
        return self.directory.create_person(draft, nodes)

    def update_person(
        self,
        actor_id: str,
        person_id: str,
        *,
        changes: Mapping[str, object],
    ) -> Person:
        auth = self.authority(actor_id)
        person = self._manageable(auth, person_id)
        draft = PersonDraft(
            username=person.username,
            family_name=str(changes.get("family_name", person.family_name)),
            given_name=str(changes.get("given_name", person.given_name)),
            email=str(changes.get("email", person.email)),
            attributes=_attributes(changes.get("attributes", person.attributes)),
        )
        draft.validate()
        enabled = changes.get("enabled", person.enabled)
        if not isinstance(enabled, bool):
            raise InvalidOrgInput("enabled", "true or false")
        return self.directory.update_person(person, draft=draft, enabled=enabled)

    def add_membership(self, actor_id: str, person_id: str, node_id: str) -> Person:
        auth = self.authority(actor_id)
        person = self._manageable(auth, person_id)
        (node,) = self._member_nodes(auth, [node_id])
        self.directory.add_membership(person, node)
        if not person.org_path:
            self.directory.set_org_path(person, node.path)
        return self._reload(person.id)

    def remove_membership(self, actor_id: str, person_id: str, node_id: str) -> Person:
        auth = self.authority(actor_id)
        person = self._manageable(auth, person_id)
        node = auth.require_visible(self.directory.get_node(node_id))
        if node.id not in person.memberships:
            raise OrgNotFound("The person is not a member of this node.")
        if len(person.memberships) == 1:
            raise OrgConflict("A person keeps at least one membership.")
        self.directory.remove_membership(person, node)
        if person.org_path == node.path:
            rest = self._nodes([m for m in person.memberships if m != node.id])
            self.directory.set_org_path(person, rest[0].path if rest else "")
        return self._reload(person.id)

    def grant_role(
        self, actor_id: str, person_id: str, role: str, node_id: str | None = None
    ) -> Person:
        def work() -> None:
            auth = self.authority(actor_id)
            _not_oneself(actor_id, person_id)
            person = self._manageable(auth, person_id)
            bind = self.directory.get_node(node_id) if node_id else None
            if node_id and bind is None:
                raise OrgNotFound("No such org node.")
            auth.require_grant(role, person, bind)
            if not self.directory.role_exists(role):
                raise InvalidOrgInput("role", "the realm does not define this role")
            self.directory.grant_role(person, role)
            if role == ORG_ADMIN or bind is not None:  # e.g. an auditor bound to a county
                self.directory.set_admin_node(person, bind)

        return self._audited(RoleAction.GRANT, actor_id, person_id, role, work)

    def revoke_role(self, actor_id: str, person_id: str, role: str) -> Person:
        def work() -> None:
            auth = self.authority(actor_id)
            _not_oneself(actor_id, person_id)
            person = self._manageable(auth, person_id)
            auth.require_grant(role, person, None, revoke=True)
            self.directory.revoke_role(person, role)
            if role == ORG_ADMIN:
                self.directory.set_admin_node(person, None)

        return self._audited(RoleAction.REVOKE, actor_id, person_id, role, work)

    def _audited(
        self,
        action: RoleAction,
        actor_id: str,
        person_id: str,
        role: str,
        work: Callable[[], None],
    ) -> Person:
        """Runs the change; records it, or its refusal (the error's code), then answers."""
        try:
            work()
        except IamError as exc:
            self._record(action, actor_id, person_id, role, exc.code)
            raise
        self._record(action, actor_id, person_id, role, "")
        return self._reload(person_id)

    def _record(
        self, action: RoleAction, actor_id: str, person_id: str, role: str, reason: str
    ) -> None:
        actor = None if self._operator else self._quiet_person(actor_id)
        target = self._quiet_person(person_id)
        # The operator acts with the Keycloak admin account: a realm admin, not a person here.
        roles = OPERATOR_ROLES if self._operator else actor.roles if actor else frozenset()
        self._audit.record(
            RoleChange(
                action=action,
                actor_id=actor_id,
                actor_username=actor.username if actor else actor_id,
                actor_roles=roles,
                target_id=person_id,
                target_username=target.username if target else person_id,
                role=role,
                org_path=target.org_path if target else "",
                reason=reason,
            )
        )

    def _quiet_person(self, person_id: str) -> Person | None:
        """For the audit record: the person, or None where the directory cannot say."""
        try:
            return self.directory.get_person(person_id)
        except IamError:
            return None

    def _reload(self, person_id: str) -> Person:
        person = self.directory.get_person(person_id)
        if person is None:
            raise OrgNotFound("No such person.")
        return person


def _not_oneself(actor_id: str, person_id: str) -> None:
    if actor_id == person_id:
        raise SelfGrantDenied("Nobody grants or revokes their own roles: ask another admin.")


def _attributes(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidOrgInput("attributes", "an object of string values")
    return {str(k): v for k, v in value.items()}


__all__ = ["NodeKind", "OrgService"]
