"""Keycloak adapters for resource servers: the realm's JWKS and RFC 7662 introspection over HTTP.

:func:`keycloak_verifier` is the one-liner an app needs::

    verifier = keycloak_verifier("https://sso.example.gov.cn", "anbao", audience="my-app")
    principal = verifier.verify(token)  # raises iam.errors.Unauthenticated
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from iam.errors import IdentityProviderUnavailable
from iam.tokens.introspection import IntrospectionCache
from iam.tokens.verifier import TokenVerifier


def issuer_url(base_url: str, realm: str) -> str:
    """The realm's issuer identifier (OpenID Connect Discovery 1.0 §4.3)."""
    return f"{base_url.rstrip('/')}/realms/{realm}"


def discovery_url(base_url: str, realm: str) -> str:
    return issuer_url(base_url, realm) + "/.well-known/openid-configuration"


class _Http:
    """A lazily (re)opened ``httpx.Client``: ``close()`` releases sockets, the next call reopens.

    Lifespan shutdown may close it while the object lives on (test clients run a lifespan per
    request), so closing must not leave a verifier that can never fetch again.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(**self._options)
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class KeycloakJwks:
    """Fetches ``/protocol/openid-connect/certs`` of one realm (the verifier rate-limits calls)."""

    def __init__(
        self, base_url: str, realm: str, *, timeout: float = 3.0, verify: bool | str = True
    ) -> None:
        self.url = issuer_url(base_url, realm) + "/protocol/openid-connect/certs"
        self._http = _Http(timeout=timeout, verify=verify)

    def fetch(self) -> Mapping[str, Any]:
        try:
            response = self._http.client().get(self.url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailable("Could not fetch the realm's signing keys.") from exc
        if not isinstance(document, dict):
            raise IdentityProviderUnavailable("The realm's key set is not a JSON object.")
        return document

    def close(self) -> None:
        self._http.close()


class KeycloakIntrospection:
    """RFC 7662 §2.1 introspection, authenticated as the resource server's confidential client.

    Credentials go in HTTP Basic (``client_secret_basic``, RFC 6749 §2.3.1); the token in the
    form body, never in a URL or a log line.
    """

    def __init__(
        self,
        base_url: str,
        realm: str,
        *,
        client_id: str,
        client_secret: str,
        timeout: float = 3.0,
        verify: bool | str = True,
    ) -> None:
        self.url = issuer_url(base_url, realm) + "/protocol/openid-connect/token/introspect"
        self._http = _Http(
            timeout=timeout, verify=verify, auth=httpx.BasicAuth(client_id, client_secret)
        )

    def introspect(self, token: str) -> Mapping[str, Any]:
        try:
            response = self._http.client().post(
                self.url, data={"token": token, "token_type_hint": "access_token"}
            )
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailable("Token introspection failed.") from exc
        if not isinstance(answer, dict):
            raise IdentityProviderUnavailable("The introspection answer is not a JSON object.")
        return answer

    def close(self) -> None:
        self._http.close()


def keycloak_verifier(
    base_url: str,
    realm: str,
    *,
    audience: str,
    clock: Callable[[], float] = time.time,
    timeout: float = 3.0,
    **options: Any,
) -> TokenVerifier:
    """A :class:`TokenVerifier` for one Keycloak realm and one audience (your client id)."""
    return TokenVerifier(
        issuer=issuer_url(base_url, realm),
        audience=audience,
        jwks=KeycloakJwks(base_url, realm, timeout=timeout),
        clock=clock,
        **options,
    )


def keycloak_introspection(
    base_url: str,
    realm: str,
    *,
    client_id: str,
    client_secret: str,
    clock: Callable[[], float] = time.time,
    ttl_seconds: float = 5.0,
    timeout: float = 3.0,
) -> IntrospectionCache:
    """Cached introspection for ``requires(introspect=True)`` routes."""
    return IntrospectionCache(
        KeycloakIntrospection(
            base_url, realm, client_id=client_id, client_secret=client_secret, timeout=timeout
        ),
        clock=clock,
        ttl_seconds=ttl_seconds,
    )
