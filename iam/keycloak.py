"""Keycloak adapters: the realm's JWKS over HTTP and readiness of the realm endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from iam.errors import IdentityProviderUnavailable


def issuer_url(base_url: str, realm: str) -> str:
    return f"{base_url.rstrip('/')}/realms/{realm}"


class KeycloakJwks:
    """Fetches ``/protocol/openid-connect/certs`` of one realm (the verifier rate-limits calls)."""

    def __init__(
        self, base_url: str, realm: str, *, timeout: float = 3.0, verify: bool | str = True
    ) -> None:
        self.url = issuer_url(base_url, realm) + "/protocol/openid-connect/certs"
        self._timeout = timeout
        self._verify = verify

    def fetch(self) -> Mapping[str, Any]:
        try:
            response = httpx.get(self.url, timeout=self._timeout, verify=self._verify)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailable("Could not fetch the realm's signing keys.") from exc
        if not isinstance(document, dict):
            raise IdentityProviderUnavailable("The realm's key set is not a JSON object.")
        return document
