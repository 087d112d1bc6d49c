"""Keycloak as an event source: ``/events`` and ``/admin-events`` of one realm, oldest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from iam.errors import IdentityProviderUnavailable
from iam.events_model import ADMIN_STREAM


class KeycloakEventSource:
    """Reads events through the admin API (the admin needs ``view-events`` on the realm)."""

    def __init__(self, admin: KeycloakAdmin, realm: str) -> None:
        self._admin = admin
        self._realm = realm

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
        self._admin.change_current_realm(self._realm)
        try:
            if stream == ADMIN_STREAM:
                return list(self._admin.get_admin_events(query))
            return list(self._admin.get_events(query))
        except KeycloakError as exc:
            raise IdentityProviderUnavailable(
                f"Could not read {stream} events of realm '{self._realm}' (HTTP {exc.response_code})."
            ) from exc
