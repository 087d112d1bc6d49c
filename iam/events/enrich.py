"""Who a Keycloak event is about, as the directory knows them now: name, roles, org path.

Keycloak's events carry a user id and, for some types, the user name typed at the login form;
the lockout event and a refused token refresh carry the id only. Analysts and the rule pack need
the person: the user name (``user.name``, what correlations group by), the realm roles
(``user.roles``; ``labels.target_roles`` of a removed credential) and the place in the org tree
(``organization.path``, the field the audit search and the alerts are org-scoped by, so an
org-scoped analyst sees the identity events of the people in their subtree).

The org path is read live from the directory: the path of a node the person is a member of
(node ids from the directory, paths as the directory gives them for those ids), the one the
person's ``org_path`` attribute names when it is among them (the primary membership), never the
attribute or a token's claim on its own word. Answers are cached by user id for ``ttl_seconds``
so a burst of failed sign-ins costs one directory lookup, not one per event.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from typing import Any

from iam.orgs.errors import OrgNotFound
from iam.orgs.ports import OrgDirectory
from iam.orgs.scope import canonical_path


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """What an event gains about one person."""

    username: str
    roles: tuple[str, ...]
    org_path: str


class Enricher:
    """Adds ``user.name/roles``, ``organization.path`` and ``user.target.name/roles`` to ECS
    events mapped by :mod:`iam.events.model` (callable: the puller's ``enrich`` hook)."""

    def __init__(
        self,
        directory: OrgDirectory,
        *,
        clock: Callable[[], float],
        ttl_seconds: float = 30.0,
        max_entries: int = 10_000,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._ttl = ttl_seconds
        self._max = max_entries
        self._cache: collections.OrderedDict[str, tuple[float, Profile | None]] = (
            collections.OrderedDict()
        )

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        user = dict(doc.get("user") or {})
        target = dict(user.get("target") or {})
        actor = self.profile(str(user.get("id") or ""))
        about = self.profile(str(target.get("id") or ""))
        if actor is not None:
            # Keycloak's username detail is what was typed (an e-mail address, other case)
            user.update(name=actor.username, roles=list(actor.roles))
        if about is not None:
            user["target"] = {**target, "name": about.username, "roles": list(about.roles)}
        # the person the event is about: the target of an admin change, else the user
        subject = about if target.get("id") else actor
        out = {**doc, "user": user}
        if subject is not None and subject.org_path:
            out["organization"] = {**dict(doc.get("organization") or {}), "path": subject.org_path}
        return out

    def profile(self, user_id: str) -> Profile | None:
        """The person ``user_id`` names (cached), or None: no id, or not a person of the realm
        (a master-realm administrator, a deleted user)."""
        if not user_id:
            return None
        now = self._clock()
        hit = self._cache.get(user_id)
        if hit is not None and now - hit[0] < self._ttl:
            self._cache.move_to_end(user_id)
            return hit[1]
        found = self._lookup(user_id)
        self._cache[user_id] = (now, found)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return found

    def _lookup(self, user_id: str) -> Profile | None:
        try:
            person = self._directory.get_person(user_id)
        except OrgNotFound:
            return None
        if person is None:
            return None
        paths: list[str] = []
        for node_id in person.memberships:
            node = self._directory.get_node(node_id)
            if node is not None and canonical_path(node.path) is not None:
                paths.append(node.path)
        primary = person.org_path if person.org_path in paths else min(paths, default="")
        return Profile(person.username, tuple(sorted(person.roles)), primary)
