"""The org tree and its people as value objects, with the placement rules of each level.

Five administrative levels (province, prefecture/city 州市, county 县, township 乡, village 村) and
departments inside any node. A node's ``path`` is the ``/``-joined codes from the root down
(``/530000/530100/530102``): codes are unique and never reused (GB/T 2260 retires a code on
re-division), so the path is stable under renames and is what the ``org_path`` token claim
carries.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Collection, Mapping

from iam.orgs import codes
from iam.orgs.errors import InvalidOrgInput


class NodeKind(enum.StrEnum):
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"
    DEPARTMENT = "department"


#: Which kind each division level must sit under; departments sit under any node.
PARENT_KIND: dict[NodeKind, NodeKind | None] = {
    NodeKind.PROVINCE: None,
    NodeKind.PREFECTURE: NodeKind.PROVINCE,
    NodeKind.COUNTY: NodeKind.PREFECTURE,
    NodeKind.TOWNSHIP: NodeKind.COUNTY,
    NodeKind.VILLAGE: NodeKind.TOWNSHIP,
}

MAX_NAME = 100
MAX_ATTRIBUTES = 30
MAX_ATTRIBUTE_VALUE = 255
_FIRST_PRINTABLE = 32
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
_ATTRIBUTE_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
#: A pending activation link's digest and expiry (:mod:`iam.invitations`); never shown.
INVITATION_ATTRIBUTE = "anbao_invitation"
#: Attributes Anbao maintains itself; clients cannot set them directly.
RESERVED_ATTRIBUTES = frozenset({"org_path", "org_admin_node", INVITATION_ATTRIBUTE})


@dataclasses.dataclass(frozen=True, slots=True)
class OrgNode:
    id: str
    kind: NodeKind
    code: str
    name: str
    path: str
    parent_id: str | None
    disabled: bool = False

    def contains(self, other: OrgNode) -> bool:
        """True when ``other`` is this node or one of its descendants."""
        return other.path == self.path or other.path.startswith(self.path + "/")

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": str(self.kind),
            "code": self.code,
            "name": self.name,
            "path": self.path,
            "parent_id": self.parent_id,
            "disabled": self.disabled,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Person:
    id: str
    username: str
    family_name: str
    given_name: str
    email: str
    enabled: bool
    attributes: Mapping[str, str]
    memberships: tuple[str, ...]  # node ids
    roles: frozenset[str]
    admin_node: str | None  # node id an org-admin is bound to
    org_path: str = ""  # path of the primary node, published as the ``org_path`` claim

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "email": self.email,
            "enabled": self.enabled,
            "attributes": dict(self.attributes),
            "memberships": list(self.memberships),
            "roles": sorted(self.roles),
            "admin_node": self.admin_node,
            "org_path": self.org_path,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class PersonDraft:
    """What a caller may set on a person (memberships and roles have their own operations)."""

    username: str
    family_name: str
    given_name: str
    email: str = ""
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        if not _USERNAME.fullmatch(self.username):
            raise InvalidOrgInput(
                "username", "3-64 characters: lower-case letters, digits, '.', '_' or '-'"
            )
        for field in ("family_name", "given_name"):
            value = getattr(self, field)
            if not value.strip() or len(value) > MAX_NAME:
                raise InvalidOrgInput(field, f"required, at most {MAX_NAME} characters")
        if self.email and not _EMAIL.fullmatch(self.email):
            raise InvalidOrgInput("email", "not an e-mail address")
        check_attributes(self.attributes)


def check_attributes(attributes: Mapping[str, str]) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidOrgInput("attributes", f"at most {MAX_ATTRIBUTES} attributes")
    for key, value in attributes.items():
        if not _ATTRIBUTE_KEY.fullmatch(key) or key in RESERVED_ATTRIBUTES:
            raise InvalidOrgInput(f"attributes.{key}", "not an allowed attribute name")
        if not isinstance(value, str) or len(value) > MAX_ATTRIBUTE_VALUE:
            raise InvalidOrgInput(f"attributes.{key}", "a string of at most 255 characters")


def check_username_namespace(username: str, reserved_prefixes: Collection[str]) -> None:
    """Usernames a broker gives its users on first login are not for local people.

    An identity provider's username mapper (``court.${CLAIM.preferred_username}``) puts every
    brokered user under a prefix; a local ``court.x`` would squat the account a court user gets
    (the first broker login would find it taken and ask to link it instead).
    """
    for prefix in reserved_prefixes:
        if prefix and username.lower().startswith(prefix):
            raise InvalidOrgInput("username", f"names starting {prefix!r} belong to a partner IdP")


def check_name(name: str) -> None:
    if not name.strip() or len(name) > MAX_NAME or any(ord(c) < _FIRST_PRINTABLE for c in name):
        raise InvalidOrgInput("name", f"required, at most {MAX_NAME} printable characters")


def check_placement(kind: NodeKind, code: str, parent: OrgNode | None) -> None:
    """A node of ``kind`` with ``code`` may sit under ``parent`` (None: at the root)."""
    if kind is NodeKind.DEPARTMENT:
        if parent is None:
            raise InvalidOrgInput("parent_id", "a department sits inside another node")
        _check_code(codes.check_uscc, code)
        return
    wanted = PARENT_KIND[kind]
    if wanted is None:
        if parent is not None:
            raise InvalidOrgInput("parent_id", "a province is a root node")
        _check_code(codes.check_province, code)
        return
    if parent is None or parent.kind is not wanted:
        raise InvalidOrgInput("parent_id", f"a {kind} sits under a {wanted}")
    checks = {
        NodeKind.PREFECTURE: codes.check_prefecture,
        NodeKind.COUNTY: codes.check_county,
        NodeKind.TOWNSHIP: codes.check_township,
        NodeKind.VILLAGE: codes.check_village,
    }
    try:
        checks[kind](code, parent.code)
    except codes.CodeError as exc:
        raise InvalidOrgInput("code", str(exc)) from None


def _check_code(check: Callable[[str], None], code: str) -> None:
    try:
        check(code)
    except codes.CodeError as exc:
        raise InvalidOrgInput("code", str(exc)) from None


def parse_kind(value: str) -> NodeKind:
    try:
        return NodeKind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in NodeKind)
        raise InvalidOrgInput("kind", f"one of {allowed}") from None
