"""Identity value objects shared by the verifier, the middleware and the services."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as established by a verified access token."""

    subject: str
    username: str
    client_id: str
    roles: frozenset[str]
    scopes: frozenset[str]
    acr: str
    org_path: str
    expires_at: int
    claims: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)

    def has_roles(self, required: frozenset[str]) -> bool:
        return required <= self.roles
