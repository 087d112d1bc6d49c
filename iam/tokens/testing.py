"""In-memory stand-ins for the iam ports, for unit tests of code that consumes tokens.

:class:`LocalIssuer` signs real RS256 JWTs with a key generated in memory and serves the
matching JWKS, so the real :class:`iam.tokens.verifier.TokenVerifier` runs unchanged; it also answers
introspection (``revoked`` tokens are inactive) for the real :class:`iam.tokens.introspection.IntrospectionCache`. Integration tests
use the real Keycloak instead.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from iam.tokens.introspection import IntrospectionCache

_KIDS = itertools.count(1)


class LocalIssuer:
    def __init__(
        self, issuer: str = "https://idp.test/realms/anbao", audience: str = "anbao-api"
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": f"test-{next(_KIDS)}", "alg": "RS256", "use": "sig"}
        )
        self.fetches = 0
        #: Tokens the issuer no longer reports active (a logout, a disabled user).
        self.revoked: set[str] = set()

    def fetch(self) -> Mapping[str, Any]:
        self.fetches += 1
        return {"keys": [self.key.as_dict(private=False)]}

    def introspect(self, token: str) -> Mapping[str, Any]:
        """RFC 7662 §2.2 answer for a token it issued: an :class:`iam.tokens.introspection.Introspector`."""
        return {"active": token not in self.revoked}

    def introspection(self, ttl_seconds: float = 0.0) -> IntrospectionCache:
        """What ``Parts(introspection=...)`` takes for high-risk routes in unit tests."""
        return IntrospectionCache(self, clock=time.time, ttl_seconds=ttl_seconds)

    def rotate(self) -> None:
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": f"test-{next(_KIDS)}", "alg": "RS256", "use": "sig"}
        )

    def claims(self, now: float, **overrides: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(uuid.uuid4()),
            "iat": int(now),
            "exp": int(now) + 300,
            "jti": str(uuid.uuid4()),
            "typ": "Bearer",
            "azp": "test-client",
            "preferred_username": "tester",
            "realm_access": {"roles": []},
            "scope": "openid",
            "acr": "1",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self, now: float, *, header: Mapping[str, Any] | None = None, **overrides: Any
    ) -> str:
        head = {"alg": "RS256", "kid": self.key.kid, **(header or {})}
        return jwt.encode(head, self.claims(now, **overrides), self.key)
