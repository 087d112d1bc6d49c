"""The org tree stored in Keycloak as nested groups; people as users (the ``OrgDirectory`` port).

Why groups and not Keycloak 26 Organizations: Organizations are flat (no parent/child), are
meant for B2B tenants with their own domains and identity providers, and a user's organization
claim has no hierarchy. The province's tree is five levels deep with departments anywhere, and
apps need the whole path in the token. Nested groups give exactly that: a subtree, attributes,
memberships, ``/a/b/c`` paths, and role inheritance if ever wanted.

Mapping: group ``name`` = the node's code (unique, stable; so the group path is the code path
``/530000/530100/530102`` that the ``org_path`` claim carries); attributes ``org_kind``,
``org_name`` (the display name, e.g. 昆明市), ``org_disabled``. People are users with
``firstName``/``lastName``, free attributes, and two attributes only Anbao writes: ``org_path``
(path of the primary node, mapped into tokens) and ``org_admin_node`` (the node id an org-admin
is bound to). The realm's user profile must let admins (only) edit them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from iam.admin.rest import KeycloakAdminClient, segment
from iam.orgs.codes import division_path
from iam.orgs.delegation import ADMIN_ROLES
from iam.orgs.errors import InvalidOrgInput, OrgNotFound
from iam.orgs.model import (
    INVITATION_ATTRIBUTE,
    RESERVED_ATTRIBUTES,
    NodeKind,
    OrgNode,
    Person,
    PersonDraft,
)
from iam.realm.model import IdentityProvider, Mapper

_PAGE = 500
#: The realm's marker role of administrators (deploy/keycloak/anbao-realm.yaml): OTP required.
OTP_MARKER_ROLE = "otp-required"
CONFIGURE_TOTP = "CONFIGURE_TOTP"


def node_from_group(group: Mapping[str, Any]) -> OrgNode | None:
    """An org node from a group representation, or None for groups that are not org nodes."""
    attrs = group.get("attributes") or {}
    kind = (attrs.get("org_kind") or [""])[0]
    if kind not in NodeKind.__members__.values():
        return None
    return OrgNode(
        id=str(group["id"]),
        kind=NodeKind(kind),
        code=str(group["name"]),
        name=(attrs.get("org_name") or [""])[0],
        path=str(group.get("path", "")),
        parent_id=group.get("parentId"),
        disabled=(attrs.get("org_disabled") or ["false"])[0] == "true",
    )


def group_body(kind: NodeKind, code: str, name: str, disabled: bool = False) -> dict[str, Any]:
    return {
        "name": code,
        "attributes": {
            "org_kind": [str(kind)],
            "org_name": [name],
            "org_disabled": ["true" if disabled else "false"],
        },
    }


def user_body(
    draft: PersonDraft, *, enabled: bool, org_path: str, admin_node: str | None
) -> dict[str, Any]:
    attributes = {k: [v] for k, v in draft.attributes.items()}
    if org_path:
        attributes["org_path"] = [org_path]
    if admin_node:
        attributes["org_admin_node"] = [admin_node]
    body: dict[str, Any] = {
        "username": draft.username,
        "firstName": draft.given_name,
        "lastName": draft.family_name,
        "enabled": enabled,
        "attributes": attributes,
    }
    if draft.email:
        body["email"] = draft.email
    return body


class KeycloakOrgDirectory:
    def __init__(self, admin: KeycloakAdminClient) -> None:
        self.admin = admin

    # -- nodes -------------------------------------------------------------------------------
    def get_node(self, node_id: str) -> OrgNode | None:
        group = self.admin.json(f"/groups/{segment(node_id)}")
        return node_from_group(group) if isinstance(group, dict) else None

    def find_node(self, code: str) -> OrgNode | None:
        """By derived path for division codes (placement rules keep them there), else by search."""
        path = division_path(code)
        if path is not None:
            group = self.admin.json("/group-by-path" + quote(path, safe="/"))
            node = node_from_group(group) if isinstance(group, dict) else None
            return node if node is not None and node.code == code else None
        found = self.admin.json(
            "/groups", {"search": code, "exact": "true", "briefRepresentation": "false"}
        )
        stack = list(found or [])
        while stack:
            group = stack.pop()
            if group.get("name") == code:
                return self.get_node(str(group["id"]))
            stack.extend(group.get("subGroups") or [])
        return None

    def roots(self) -> list[OrgNode]:
        groups = self._paged("/groups", {"briefRepresentation": "false"})
        return [n for n in map(node_from_group, groups) if n is not None]

    def children(self, node_id: str) -> list[OrgNode]:
        groups = self._paged(
            f"/groups/{segment(node_id)}/children", {"briefRepresentation": "false"}
        )
        return [n for n in map(node_from_group, groups) if n is not None]

    def _paged(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.admin.json(path, params | {"first": len(out), "max": _PAGE})
            if page is None:
                raise OrgNotFound("No such org node.")
            out += page
            if len(page) < _PAGE:
                return out

    def create_node(self, parent: OrgNode | None, kind: NodeKind, code: str, name: str) -> OrgNode:
        path = "/groups" if parent is None else f"/groups/{segment(parent.id)}/children"
        response = self.admin.request("POST", path, json=group_body(kind, code, name))
        return OrgNode(
            id=self.admin.created_id(response),
            kind=kind,
            code=code,
            name=name,
            path=(parent.path if parent else "") + "/" + code,
            parent_id=parent.id if parent else None,
        )

    def update_node(self, node: OrgNode, *, name: str, disabled: bool) -> OrgNode:
        body = group_body(node.kind, node.code, name, disabled)
        self.admin.request("PUT", f"/groups/{segment(node.id)}", json=body)
        return OrgNode(node.id, node.kind, node.code, name, node.path, node.parent_id, disabled)

    def move_node(self, node: OrgNode, new_parent: OrgNode) -> OrgNode:
        body = {"id": node.id} | group_body(node.kind, node.code, node.name, node.disabled)
        self.admin.request("POST", f"/groups/{segment(new_parent.id)}/children", json=body)
        moved = self.get_node(node.id)
        if moved is None:
            raise OrgNotFound("No such org node.")
        return moved

    def members(self, node_id: str, first: int, max_results: int) -> list[Person]:
        users = self.admin.json(
            f"/groups/{segment(node_id)}/members",
            {"first": first, "max": max_results, "briefRepresentation": "false"},
        )
        return [self._person(u) for u in users or []]

    # -- people ------------------------------------------------------------------------------
    def get_person(self, person_id: str) -> Person | None:
        user = self.admin.json(f"/users/{segment(person_id)}")
        return self._person(user) if isinstance(user, dict) else None

    def find_person(self, username: str) -> Person | None:
        users = self.admin.json("/users", {"username": username, "exact": "true"})
        return self._person(users[0]) if users else None

    def search_people(self, query: str, first: int, max_results: int) -> list[Person]:
        """Keycloak's ``search``: a substring of username, e-mail, first or last name."""
        params = {"search": query, "first": first, "max": max_results}
        try:
            users = self.admin.json("/users", params | {"briefRepresentation": "false"})
        except InvalidOrgInput:  # text Keycloak cannot search for matches nobody
            return []
        return [self._person(u) for u in users or []]

    def _person(self, user: Mapping[str, Any]) -> Person:
        uid = segment(str(user["id"]))
        groups = self.admin.json(f"/users/{uid}/groups", {"max": 1000}) or []
        roles = self.admin.json(f"/users/{uid}/role-mappings/realm/composite") or []
        attrs = {k: (v or [""])[0] for k, v in (user.get("attributes") or {}).items()}
        return Person(
            id=str(user["id"]),
            username=str(user["username"]),
            family_name=str(user.get("lastName", "")),
            given_name=str(user.get("firstName", "")),
            email=str(user.get("email", "")),
            enabled=bool(user.get("enabled", True)),
            attributes={k: v for k, v in attrs.items() if k not in RESERVED_ATTRIBUTES},
            memberships=tuple(str(g["id"]) for g in groups),
            roles=frozenset(str(r["name"]) for r in roles),
            admin_node=attrs.get("org_admin_node") or None,
            org_path=attrs.get("org_path", ""),
        )

    def create_person(
        self, draft: PersonDraft, memberships: Sequence[OrgNode], enabled: bool = True
    ) -> Person:
        org_path = memberships[0].path if memberships else ""  # the first admin has no node
        body = user_body(draft, enabled=enabled, org_path=org_path, admin_node=None)
        body["groups"] = [n.path for n in memberships]
        response = self.admin.request("POST", "/users", json=body)
        return Person(
            id=self.admin.created_id(response),
            username=draft.username,
            family_name=draft.family_name,
            given_name=draft.given_name,
            email=draft.email.lower(),
            enabled=enabled,
            attributes=dict(draft.attributes),
            memberships=tuple(n.id for n in memberships),
            roles=frozenset(),
            admin_node=None,
            org_path=org_path,
        )

    def update_person(
        self,
        person: Person,
        *,
        draft: PersonDraft,
        enabled: bool,
        extra_attributes: Mapping[str, str] | None = None,
    ) -> Person:
        body = user_body(
            draft, enabled=enabled, org_path=person.org_path, admin_node=person.admin_node
        )
        body["attributes"].update({k: [v] for k, v in (extra_attributes or {}).items()})
        self._keep_invitation(person.id, body)
        self.admin.request("PUT", f"/users/{segment(person.id)}", json=body)
        updated = self.get_person(person.id)
        if updated is None:
            raise OrgNotFound("No such person.")
        return updated

    def _put_reserved(self, person: Person, *, org_path: str, admin_node: str | None) -> None:
        draft = PersonDraft(
            person.username, person.family_name, person.given_name, person.email, person.attributes
        )
        body = user_body(draft, enabled=person.enabled, org_path=org_path, admin_node=admin_node)
        self._keep_invitation(person.id, body)
        self.admin.request("PUT", f"/users/{segment(person.id)}", json=body)

    def _keep_invitation(self, person_id: str, body: dict[str, Any]) -> None:
        """A PUT replaces every attribute: a pending activation link (written by
        :mod:`iam.invitations`, not part of :class:`Person`) survives other changes."""
        user = self.admin.json(f"/users/{segment(person_id)}")
        value = ((user or {}).get("attributes") or {}).get(INVITATION_ATTRIBUTE)
        if value:
            body["attributes"][INVITATION_ATTRIBUTE] = value

    def set_org_path(self, person: Person, path: str) -> None:
        self._put_reserved(person, org_path=path, admin_node=person.admin_node)

    def set_admin_node(self, person: Person, node: OrgNode | None) -> None:
        current = self.get_person(person.id) or person
        self._put_reserved(current, org_path=current.org_path, admin_node=node.id if node else None)

    def add_membership(self, person: Person, node: OrgNode) -> None:
        self.admin.request("PUT", f"/users/{segment(person.id)}/groups/{segment(node.id)}")

    def remove_membership(self, person: Person, node: OrgNode) -> None:
        self.admin.request("DELETE", f"/users/{segment(person.id)}/groups/{segment(node.id)}")

    def role_exists(self, role: str) -> bool:
        return self.admin.json(f"/roles/{segment(role)}") is not None

    def grant_role(self, person: Person, role: str) -> None:
        rep = self.admin.json(f"/roles/{segment(role)}")
        self.admin.request("POST", f"/users/{segment(person.id)}/role-mappings/realm", json=[rep])
        self._require_otp_if_administrator(person, role)

    def _require_otp_if_administrator(self, person: Person, role: str) -> None:
        """An administrator sets up OTP at the next sign-in (L3-CES1-04, GB/T 39786 §8.4 a).

        The browser flow already asks holders of the ``otp-required`` marker for OTP; adding
        Keycloak's ``CONFIGURE_TOTP`` required action as well makes the enrolment visible in the
        account itself from the grant on, not only after the first login.
        """
        uid = segment(person.id)
        roles = self.admin.json(f"/users/{uid}/role-mappings/realm/composite") or []
        held = {str(r["name"]) for r in roles}
        if OTP_MARKER_ROLE not in held and role not in ADMIN_ROLES:
            return
        credentials = self.admin.json(f"/users/{uid}/credentials") or []
        if any(c.get("type") == "otp" for c in credentials):
            return
        user = self.admin.json(f"/users/{uid}")
        if not isinstance(user, dict):
            raise OrgNotFound("No such person.")
        actions = list(user.get("requiredActions") or [])
        if CONFIGURE_TOTP not in actions:
            user["requiredActions"] = [*actions, CONFIGURE_TOTP]
            self.admin.request("PUT", f"/users/{uid}", json=user)

    def revoke_role(self, person: Person, role: str) -> None:
        rep = self.admin.json(f"/roles/{segment(role)}")
        self.admin.request("DELETE", f"/users/{segment(person.id)}/role-mappings/realm", json=[rep])

    def reserved_username_prefixes(self) -> frozenset[str]:
        """Read from the realm's identity providers as the realm file set them, so a broker
        added there is covered without a second list to keep in step."""
        out = set()
        for idp in self.admin.json("/identity-provider/instances") or []:
            alias = str(idp["alias"])
            reps = self.admin.json(f"/identity-provider/instances/{segment(alias)}/mappers") or []
            mappers = tuple(
                Mapper(str(m.get("name", "")), str(m.get("identityProviderMapper", "")),
                       dict(m.get("config") or {}))
                for m in reps
            )  # fmt: skip
            out.add(IdentityProvider(alias, mappers=mappers).username_prefix)
        return frozenset(out - {""})
