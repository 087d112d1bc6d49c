"""One caller's organisational reach, for every package: the single org-scope authority.

Every org-scoped decision (seal registry, audit search, export and reveal, SIEM alerts,
compliance) asks the same question the org tree's delegation asks: which node is this person
bound to *now*? The answer is read live from the directory for each request, like
:meth:`iam.orgs.service.OrgService.authority`, and never from the token: the ``org_path`` claim
is the person's *primary membership* (an org-admin of a county may be a member of its
prefecture), it lives until the token expires, and it is a path string a client could
otherwise smuggle in. So:

* ``platform-admin`` reaches everything (:attr:`OrgScope.platform`);
* a person bound to a node (attribute ``org_admin_node`` = the node's id, written by Anbao's
  grants only) reaches that node's subtree, as long as the node exists and is enabled;
* anybody else reaches nothing (deny by default).

Platform-wide data that belongs to no node (compliance runs and reports, audit events and
alerts without an org path: Keycloak's realm-level events, system events) needs
:attr:`OrgScope.whole_tree`: platform-admin, or a binding to a root of the tree (how a
province-wide analyst or auditor, who is no platform-admin, is given everything). A deployment
serves one province: its root is the whole tree.

Containment compares node ids, or live paths the directory returned for node ids. Paths are
checked to be canonical (``/``-separated codes, no empty, ``.`` or ``..`` segment) and compared
segment-wise, so ``/a/b`` never covers ``/a/bc`` and ``/a/b/../c`` is covered by nothing.

Other packages do not import this module (the style's dependency direction): the composition
root resolves the scope through :func:`iam.tokens.falcon.org_scope` and hands each package the
value (or the parts of it) its own ports ask for.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Final

from iam.orgs.delegation import PLATFORM_ADMIN
from iam.orgs.model import OrgNode, Person
from iam.orgs.ports import OrgDirectory

#: A node code as the directory stores it (GB/T 2260 digits, GB 32100 credit codes).
_SEGMENT: Final = re.compile(r"[0-9A-Za-z_-]{1,64}")
MAX_PATH: Final = 1024


def canonical_path(path: str) -> str | None:
    """``path`` if it is an absolute, canonical code path (``/530000/530100``), else None."""
    if len(path) > MAX_PATH or not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    if not all(_SEGMENT.fullmatch(s) for s in segments):
        return None  # empty, "." and ".." segments, separators, controls, anything odd
    return path


def path_within(root: str, path: str) -> bool:
    """``path`` is ``root`` or below it, both canonical; segment-wise, never a string prefix."""
    if canonical_path(root) is None or canonical_path(path) is None:
        return False
    return path == root or path.startswith(root + "/")


@dataclasses.dataclass(frozen=True, slots=True)
class OrgScope:
    """What a caller reaches: everything, one live subtree (root id + live path), or nothing.

    ``root_path`` is the path the directory gave for ``root_id`` when the scope was resolved
    (this request); it is what stored paths (audit events, seal snapshots) are filtered by.
    """

    platform: bool = False
    root_id: str = ""
    root_path: str = ""
    #: The bound node is a root of the tree (a province): its subtree is the whole tree.
    at_root: bool = False

    @classmethod
    def everything(cls) -> OrgScope:
        return cls(platform=True)

    @classmethod
    def nothing(cls) -> OrgScope:
        return cls()

    @classmethod
    def subtree(cls, node: OrgNode) -> OrgScope:
        if canonical_path(node.path) is None:
            return cls()
        return cls(root_id=node.id, root_path=node.path, at_root=node.parent_id is None)

    @property
    def empty(self) -> bool:
        return not self.platform and not self.root_id

    @property
    def whole_tree(self) -> bool:
        """Reaches platform-wide data (compliance evidence): platform-admin, or bound at a root.

        How a compliance officer or auditor, who is no platform-admin (separation of duties),
        is given the whole platform: by a binding to the province, never by default.
        """
        return self.platform or self.at_root

    def covers(self, node_id: str, node_path: str) -> bool:
        """The node (id and the live path the directory gave for it) lies in this scope."""
        if self.platform:
            return True
        if not self.root_id or not node_id:
            return False
        return node_id == self.root_id or path_within(self.root_path, node_path)

    def covers_node(self, node: OrgNode) -> bool:
        return self.covers(node.id, node.path)

    def covers_path(self, path: str) -> bool:
        """A stored path (an audit event's ``organization.path``) lies in this scope; a path
        outside the tree or none at all (an event without an org) only for the whole tree."""
        if self.whole_tree:
            return True
        return bool(self.root_id) and path_within(self.root_path, path)

    @property
    def filter_path(self) -> str:
        """The path stored records are filtered by: ``/`` for everything, ``""`` for nothing.

        The whole tree filters nothing out, so events and alerts without an org path (realm
        events, system events) reach province-wide readers, and only them: a subtree's filter
        never matches an empty path.
        """
        if self.whole_tree:
            return "/"
        return self.root_path if self.root_id else ""


def bound_node(directory: OrgDirectory, person: Person) -> OrgNode | None:
    """The node ``person`` is bound to now (``org_admin_node``), if it exists and is enabled:
    the one reading of the binding, for this scope and for the org tree's delegation."""
    if not person.admin_node:
        return None
    node = directory.get_node(person.admin_node)
    return None if node is None or node.disabled else node


def resolve_scope(directory: OrgDirectory, subject: str) -> OrgScope:
    """The live scope of ``subject`` (a token's ``sub``); nothing if unknown or disabled."""
    person = directory.get_person(subject) if subject else None
    if person is None or not person.enabled:
        return OrgScope.nothing()
    if PLATFORM_ADMIN in person.roles:
        return OrgScope.everything()
    node = bound_node(directory, person)
    return OrgScope.nothing() if node is None else OrgScope.subtree(node)
