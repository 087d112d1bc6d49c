"""The directory the org service stores nodes and people in (Keycloak, or in memory in tests).

Synchronous and thread-safe: the API calls it from a worker thread, the importer from a bounded
thread pool. Adapters raise :mod:`iam.orgs.errors` (``OrgConflict`` on duplicates,
``OrgNotFound`` on unknown ids) and :class:`iam.errors.IdentityProviderUnavailable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from iam.orgs.model import NodeKind, OrgNode, Person, PersonDraft


class OrgDirectory(Protocol):
    # -- nodes -------------------------------------------------------------------------------
    def get_node(self, node_id: str) -> OrgNode | None: ...

    def find_node(self, code: str) -> OrgNode | None: ...

    def roots(self) -> list[OrgNode]: ...

    def children(self, node_id: str) -> list[OrgNode]: ...

    def create_node(
        self, parent: OrgNode | None, kind: NodeKind, code: str, name: str
    ) -> OrgNode: ...

    def update_node(self, node: OrgNode, *, name: str, disabled: bool) -> OrgNode: ...

    def move_node(self, node: OrgNode, new_parent: OrgNode) -> OrgNode: ...

    def members(self, node_id: str, first: int, max_results: int) -> list[Person]: ...

    # -- people ------------------------------------------------------------------------------
    def get_person(self, person_id: str) -> Person | None: ...

    def find_person(self, username: str) -> Person | None: ...

    def search_people(self, query: str, first: int, max_results: int) -> list[Person]:
        """People whose username, e-mail, given or family name contains ``query``."""
        ...

    def create_person(
        self, draft: PersonDraft, memberships: Sequence[OrgNode], enabled: bool = True
    ) -> Person: ...

    def update_person(
        self,
        person: Person,
        *,
        draft: PersonDraft,
        enabled: bool,
        extra_attributes: Mapping[str, str] | None = None,
    ) -> Person: ...

    def add_membership(self, person: Person, node: OrgNode) -> None: ...

    def remove_membership(self, person: Person, node: OrgNode) -> None: ...

    def set_admin_node(self, person: Person, node: OrgNode | None) -> None: ...

    def set_org_path(self, person: Person, path: str) -> None: ...

    def role_exists(self, role: str) -> bool: ...

    def grant_role(self, person: Person, role: str) -> None: ...

    def revoke_role(self, person: Person, role: str) -> None: ...

    # -- the realm's brokers -----------------------------------------------------------------
    def reserved_username_prefixes(self) -> frozenset[str]:
        """Prefixes the realm's identity providers give brokered usernames (``court.``)."""
        ...
