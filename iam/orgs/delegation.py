"""Delegated administration: what an administrator may see and change in the org tree.

Keycloak's fine-grained admin permissions cannot express "this subtree of groups and the people
in it, and grants no higher than your own" (and they are a preview feature), so Anbao enforces the
rules itself in front of the Keycloak admin API, with its own admin credentials:

* ``platform-admin`` administers everything.
* ``org-admin`` is bound to one node (user attribute ``org_admin_node`` = the node's id, stable
  across renames and moves; only admins can write it; any grant may bind, and the binding is the
  person's org scope everywhere, :mod:`iam.orgs.scope`) and administers that node's subtree:
  it sees the subtree and the people whose memberships all lie inside it, creates child nodes,
  renames, moves and disables nodes strictly below its root (its own root belongs to the level
  above), and grants only roles it holds itself — never ``platform-admin``.
* Nobody grants anything to themselves or administers their own account through this API.
* Anything outside the subtree is reported as not found, so its existence does not leak.

Pure rules; the service resolves nodes and people and asks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from iam.orgs.errors import DelegationDenied, InvalidOrgInput, OrgNotFound
from iam.orgs.model import OrgNode, Person

PLATFORM_ADMIN = "platform-admin"
ORG_ADMIN = "org-admin"
#: The platform's realm roles (issue 4 §1); the only roles this API grants or revokes.
PLATFORM_ROLES = frozenset(
    {
        PLATFORM_ADMIN,
        ORG_ADMIN,
        "security-analyst",
        "auditor",
        "compliance-officer",
        "seal-admin",
        "seal-user",
        "app-developer",
    }
)

#: Administrative roles: their holders must sign in with OTP (the realm gives each of them the
#: ``otp-required`` composite; L3-CES1-04 checks the same list).
ADMIN_ROLES = frozenset({PLATFORM_ADMIN, ORG_ADMIN, "seal-admin"})


@dataclasses.dataclass(frozen=True, slots=True)
class Authority:
    """One caller's administrative reach, resolved from the live directory for each request."""

    actor_id: str
    roles: frozenset[str]
    root: OrgNode | None  # None for a platform admin

    @classmethod
    def of(cls, actor: Person | None, root: OrgNode | None) -> Authority:
        if actor is None or not actor.enabled:
            raise DelegationDenied("An administrative role is required.")
        if PLATFORM_ADMIN in actor.roles:
            return cls(actor.id, actor.roles, None)
        if ORG_ADMIN in actor.roles and root is not None and not root.disabled:
            return cls(actor.id, actor.roles, root)
        raise DelegationDenied("An administrative role bound to an org node is required.")

    @property
    def is_platform(self) -> bool:
        return self.root is None

    # -- nodes -------------------------------------------------------------------------------
    def sees(self, node: OrgNode) -> bool:
        return self.root is None or self.root.contains(node)

    def require_visible(self, node: OrgNode | None) -> OrgNode:
        if node is None or not self.sees(node):
            raise OrgNotFound("No such org node.")
        return node

    def require_manageable(self, node: OrgNode | None) -> OrgNode:
        node = self.require_visible(node)
        if self.root is not None and node.id == self.root.id:
            raise DelegationDenied("Your own root node is administered by the level above.")
        return node

    def require_parent(self, parent: OrgNode | None) -> None:
        """Creating at the root (a province) is for platform admins only."""
        if parent is None:
            if not self.is_platform:
                raise DelegationDenied("Only a platform admin creates root nodes.")
            return
        self.require_visible(parent)

    # -- people ------------------------------------------------------------------------------
    def require_visible_person(self, person: Person | None, nodes: Sequence[OrgNode]) -> Person:
        if person is None:
            raise OrgNotFound("No such person.")
        if self.is_platform or person.id == self.actor_id:
            return person
        if nodes and all(self.sees(n) for n in nodes):
            return person
        raise OrgNotFound("No such person.")

    def require_manageable_person(
        self, person: Person | None, nodes: Sequence[OrgNode], admin_node: OrgNode | None
    ) -> Person:
        person = self.require_visible_person(person, nodes)
        if person.id == self.actor_id:
            raise DelegationDenied("Nobody administers their own account here.")
        if self.is_platform:
            return person
        above = (person.roles & PLATFORM_ROLES) - self.grantable()
        if above:
            raise DelegationDenied(
                f"This person holds {', '.join(sorted(above))}: a role you do not hold "
                "(only a platform-admin administers them)."
            )
        if person.admin_node is not None and (admin_node is None or not self.sees(admin_node)):
            raise DelegationDenied("This person administers a node outside your subtree.")
        return person

    def grantable(self) -> frozenset[str]:
        if self.is_platform:
            return PLATFORM_ROLES
        return (self.roles & PLATFORM_ROLES) - {PLATFORM_ADMIN}

    def require_grant(
        self, role: str, target: Person, bind: OrgNode | None, *, revoke: bool = False
    ) -> None:
        """Checks a grant (or revocation) of ``role`` to ``target``, bound to ``bind``.

        A revocation needs no node: the target's own binding was checked by
        :meth:`require_manageable_person`.
        """
        if role not in PLATFORM_ROLES:
            raise InvalidOrgInput("role", "not a platform role")
        if target.id == self.actor_id:
            raise DelegationDenied("Nobody grants or revokes their own roles.")
        if role not in self.grantable():
            if role == PLATFORM_ADMIN:
                raise DelegationDenied("Only a platform-admin grants or revokes platform-admin.")
            raise DelegationDenied(
                f"{role} is a role you do not hold: you grant and revoke only roles you hold."
            )
        if role == ORG_ADMIN and not revoke and bind is None:
            raise InvalidOrgInput("node_id", "an org-admin grant names the node it binds to")
        if bind is not None:  # any grant may bind: the binding is the person's org scope
            self.require_visible(bind)
