"""Identity value objects shared by the verifier, the middleware and the services."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as established by a verified access token.

    ``roles`` are realm roles (``realm_access.roles``); ``client_roles`` are the roles the token
    carries for the verifying service's own client (``resource_access[audience].roles``), so an
    app can define roles of its own without colliding with the platform's.
    """

    subject: str
    username: str
    client_id: str
    roles: frozenset[str]
    scopes: frozenset[str]
    acr: str
    org_path: str
    expires_at: int
    claims: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)
    client_roles: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()

    def has_roles(self, required: frozenset[str]) -> bool:
        return required <= self.roles

    def has_any_role(self, candidates: frozenset[str]) -> bool:
        return not candidates or bool(candidates & self.roles)
