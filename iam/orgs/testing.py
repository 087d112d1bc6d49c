"""An in-memory :class:`iam.orgs.ports.OrgDirectory` for unit tests of the service and importer.

Behaves like the Keycloak adapter where the service depends on it: sibling names (codes) are
unique (409), paths are code paths, memberships and realm roles are per person. Integration
tests use the real Keycloak.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Mapping, Sequence

from iam.orgs.delegation import PLATFORM_ROLES
from iam.orgs.errors import OrgConflict, OrgNotFound
from iam.orgs.model import NodeKind, OrgNode, Person, PersonDraft


class InMemoryOrgDirectory:
    def __init__(
        self, roles: frozenset[str] = PLATFORM_ROLES, broker_prefixes: frozenset[str] = frozenset()
    ) -> None:
        self.broker_prefixes = broker_prefixes
        self.nodes: dict[str, OrgNode] = {}
        self.people: dict[str, Person] = {}
        self.roles = roles
        self.calls = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    # -- nodes -------------------------------------------------------------------------------
    def get_node(self, node_id: str) -> OrgNode | None:
        return self.nodes.get(node_id)

    def find_node(self, code: str) -> OrgNode | None:
        return next((n for n in self.nodes.values() if n.code == code), None)

    def roots(self) -> list[OrgNode]:
        return [n for n in self.nodes.values() if n.parent_id is None]

    def children(self, node_id: str) -> list[OrgNode]:
        return [n for n in self.nodes.values() if n.parent_id == node_id]

    def create_node(self, parent: OrgNode | None, kind: NodeKind, code: str, name: str) -> OrgNode:
        with self._lock:
            self.calls += 1
            parent_id = parent.id if parent else None
            if any(n.code == code for n in self.nodes.values() if n.parent_id == parent_id):
                raise OrgConflict("duplicate sibling name")
            path = (parent.path if parent else "") + "/" + code
            node = OrgNode(self._id("g"), kind, code, name, path, parent_id)
            self.nodes[node.id] = node
            return node

    def update_node(self, node: OrgNode, *, name: str, disabled: bool) -> OrgNode:
        updated = dataclasses.replace(self.nodes[node.id], name=name, disabled=disabled)
        self.nodes[node.id] = updated
        return updated

    def move_node(self, node: OrgNode, new_parent: OrgNode) -> OrgNode:
        old = self.nodes[node.id].path
        new = new_parent.path + "/" + node.code
        for n in list(self.nodes.values()):
            if n.path == old or n.path.startswith(old + "/"):
                self.nodes[n.id] = dataclasses.replace(n, path=new + n.path[len(old) :])
        self.nodes[node.id] = dataclasses.replace(self.nodes[node.id], parent_id=new_parent.id)
        return self.nodes[node.id]

    def members(self, node_id: str, first: int, max_results: int) -> list[Person]:
        found = [p for p in self.people.values() if node_id in p.memberships]
        return found[first : first + max_results]

    # -- people ------------------------------------------------------------------------------
    def get_person(self, person_id: str) -> Person | None:
        return self.people.get(person_id)

    def find_person(self, username: str) -> Person | None:
        return next((p for p in self.people.values() if p.username == username), None)

    def search_people(self, query: str, first: int, max_results: int) -> list[Person]:
        q = query.lower()
        found = [
            p
            for p in self.people.values()
            if any(q in v.lower() for v in (p.username, p.email, p.given_name, p.family_name))
        ]
        return found[first : first + max_results]

    def create_person(
        self, draft: PersonDraft, memberships: Sequence[OrgNode], enabled: bool = True
    ) -> Person:
        with self._lock:
            self.calls += 1
            if self.find_person(draft.username) is not None:
                raise OrgConflict("duplicate username")
            person = Person(
                self._id("u"),
                draft.username,
                draft.family_name,
                draft.given_name,
                draft.email,
                enabled,
                dict(draft.attributes),
                tuple(n.id for n in memberships),
                frozenset(),
                None,
                memberships[0].path if memberships else "",
            )
            self.people[person.id] = person
            return person

    def _change(self, person: Person, **changes: object) -> Person:
        if person.id not in self.people:
            raise OrgNotFound("No such person.")
        updated = dataclasses.replace(self.people[person.id], **changes)  # type: ignore[arg-type]
        self.people[person.id] = updated
        return updated

    def update_person(
        self,
        person: Person,
        *,
        draft: PersonDraft,
        enabled: bool,
        extra_attributes: Mapping[str, str] | None = None,
    ) -> Person:
        return self._change(
            person,
            family_name=draft.family_name,
            given_name=draft.given_name,
            email=draft.email,
            enabled=enabled,
            attributes={**draft.attributes, **(extra_attributes or {})},
        )

    def add_membership(self, person: Person, node: OrgNode) -> None:
        current = self.people[person.id].memberships
        if node.id not in current:
            self._change(person, memberships=(*current, node.id))

    def remove_membership(self, person: Person, node: OrgNode) -> None:
        current = self.people[person.id].memberships
        self._change(person, memberships=tuple(m for m in current if m != node.id))

    def set_admin_node(self, person: Person, node: OrgNode | None) -> None:
        self._change(person, admin_node=node.id if node else None)

    def set_org_path(self, person: Person, path: str) -> None:
        self._change(person, org_path=path)

    def role_exists(self, role: str) -> bool:
        return role in self.roles

    def grant_role(self, person: Person, role: str) -> None:
        self._change(person, roles=self.people[person.id].roles | {role})

    def revoke_role(self, person: Person, role: str) -> None:
        self._change(person, roles=self.people[person.id].roles - {role})

    def reserved_username_prefixes(self) -> frozenset[str]:
        return self.broker_prefixes

    # -- shortcuts for tests of other packages ------------------------------------------------
    def node_at(self, path: str) -> OrgNode:
        """The node at ``path`` (``/gov/health``), created with its ancestors when missing."""
        node: OrgNode | None = None
        for code in path.strip("/").split("/"):
            found = next(
                (
                    n
                    for n in self.nodes.values()
                    if n.code == code and n.parent_id == (node.id if node else None)
                ),
                None,
            )
            node = found or self.create_node(node, NodeKind.DEPARTMENT, code, code)
        if node is None:
            raise OrgNotFound("No such org node.")
        return node

    def bind(self, subject: str, path: str, *roles: str) -> Person:
        """A person with id ``subject`` holding ``roles``, bound to the node at ``path``.

        ``path`` ``/`` makes a platform admin (everything); ``""`` binds to nothing.
        """
        bound = self.node_at(path) if path not in {"", "/"} else None
        held = set(roles) | ({"platform-admin"} if path == "/" else set())
        person = Person(
            subject,
            subject,
            "测",
            "试",
            "",
            True,
            {},
            (bound.id,) if bound else (),
            frozenset(held),
            bound.id if bound else None,
            bound.path if bound else "",
        )
        with self._lock:
            self.people[subject] = person
        return person
