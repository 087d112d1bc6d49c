"""Keycloak as an event source: ``/events`` and ``/admin-events`` of one realm, oldest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from iam.admin.rest import KeycloakAdminClient
from iam.events.model import ADMIN_STREAM


class KeycloakEventSource:
    """Reads events through the admin API (the admin needs ``view-events`` on the realm).

    Uses the org directory's admin client (one admin client factory), whose realm is the realm
    read; Keycloak's failures arrive as :class:`iam.errors.IdentityProviderUnavailable`.
    """

    def __init__(self, admin: KeycloakAdminClient) -> None:
        self._admin = admin

    def fetch(
        self, stream: str, date_from_ms: int, first: int, max_results: int
    ) -> Sequence[Mapping[str, Any]]:
        # dateFrom takes epoch milliseconds (inclusive) since Keycloak 24; direction since 25.
        query = {
            "dateFrom": str(date_from_ms),
            "first": first,
            "max": max_results,
            "direction": "asc",
        }
        path = "/admin-events" if stream == ADMIN_STREAM else "/events"
        return list(self._admin.json(path, query) or [])
