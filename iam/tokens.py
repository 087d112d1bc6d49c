"""Local verification of Keycloak access tokens against the realm's JWKS (RFC 7515/7517/7519).

joserfc (authlib's JOSE successor) does the JWS and claim checks; this module adds what a
resource server needs around it and no library packages together:

* an algorithm allow-list taken from the JWKS itself (signature keys only), so ``none`` and
  HS* with a public key can never verify;
* a key cache refetched on an unknown ``kid`` at most once per ``min_refresh_seconds``, which
  survives Keycloak key rotation without a restart and cannot be turned into a fetch storm;
* a bounded cache of verified tokens keyed by their SHA-256, never used past ``exp``, because
  real clients send the same token many times and RSA verification dominates the request cost.

The core is framework-free and synchronous; the JWKS fetch is injected (``JwksSource``).
"""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from iam.errors import Unauthenticated
from iam.model import Principal

_ASYMMETRIC_PREFIXES = ("RS", "PS", "ES", "Ed")


class JwksSource(Protocol):
    """Where the realm's public keys come from (HTTP in production, a dict in unit tests)."""

    def fetch(self) -> Mapping[str, Any]: ...


class TokenVerifier:
    """Verifies bearer tokens for one issuer and audience; thread-safe."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JwksSource,
        clock: Callable[[], float],
        leeway_seconds: int = 30,
        min_refresh_seconds: float = 10.0,
        cache_size: int = 10_000,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._jwks = jwks
        self._clock = clock
        self._leeway = leeway_seconds
        self._min_refresh = min_refresh_seconds
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._algorithms: tuple[str, ...] = ()
        self._kids: frozenset[str] = frozenset()
        self._last_fetch = float("-inf")
        self._cache: collections.OrderedDict[bytes, Principal] = collections.OrderedDict()
        self._cache_size = cache_size

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token, else raise :class:`Unauthenticated`."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        cached = self._cached(digest, now)
        if cached is not None:
            return cached
        principal = self._verify_uncached(token, now)
        self._remember(digest, principal)
        return principal

    def needs_key_fetch(self, token: str) -> bool:
        """True when verifying would first fetch the JWKS (lets async callers use a thread)."""
        return self._keys is None or _header_kid(token) not in self._kids

    # -- internals -------------------------------------------------------------------------

    def _cached(self, digest: bytes, now: float) -> Principal | None:
        with self._lock:
            principal = self._cache.get(digest)
            if principal is None:
                return None
            if principal.expires_at <= now:
                del self._cache[digest]
                return None
            self._cache.move_to_end(digest)
            return principal

    def _remember(self, digest: bytes, principal: Principal) -> None:
        with self._lock:
            self._cache[digest] = principal
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _verify_uncached(self, token: str, now: float) -> Principal:
        kid = _header_kid(token)
        keys, algorithms = self._key_set(kid, now)
        try:
            decoded = jwt.decode(token, keys, algorithms=list(algorithms))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated("The access token is invalid.") from exc
        claims = decoded.claims
        self._check_claims(claims, now)
        return _principal(claims)

    def _key_set(self, kid: str | None, now: float) -> tuple[KeySet, tuple[str, ...]]:
        with self._lock:
            stale = self._keys is None or (kid is not None and kid not in self._kids)
            if stale and now - self._last_fetch >= self._min_refresh:
                self._last_fetch = now
                self._load(self._jwks.fetch())
            if self._keys is None:
                raise Unauthenticated("The identity provider's keys are not available.")
            if kid is not None and kid not in self._kids:
                raise Unauthenticated("The access token was signed with an unknown key.")
            return self._keys, self._algorithms

    def _load(self, document: Mapping[str, Any]) -> None:
        signing = [
            k
            for k in document.get("keys", [])
            if k.get("use", "sig") == "sig"
            and str(k.get("alg", "")).startswith(_ASYMMETRIC_PREFIXES)
        ]
        if not signing:
            raise Unauthenticated("The identity provider published no signature keys.")
        self._keys = KeySet.import_key_set({"keys": signing})
        self._algorithms = tuple(sorted({str(k["alg"]) for k in signing}))
        self._kids = frozenset(str(k["kid"]) for k in signing if "kid" in k)

    def _check_claims(self, claims: Mapping[str, Any], now: float) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=self._leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(dict(claims))
        except JoseError as exc:
            raise Unauthenticated("The access token is not valid for this service.") from exc
        iat = claims.get("iat")
        if isinstance(iat, int | float) and iat > now + self._leeway:
            raise Unauthenticated("The access token was issued in the future.")
        if claims.get("typ", "Bearer") != "Bearer":
            raise Unauthenticated("Only access tokens are accepted.")


def _header_kid(token: str) -> str | None:
    from joserfc import jws  # noqa: PLC0415 - tiny helper import kept local

    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise Unauthenticated("The access token is malformed.") from exc
    kid = header.get("kid")
    return str(kid) if kid is not None else None


def _principal(claims: Mapping[str, Any]) -> Principal:
    realm_roles = claims.get("realm_access", {}).get("roles", [])
    scope = claims.get("scope", "")
    return Principal(
        subject=str(claims["sub"]),
        username=str(claims.get("preferred_username", "")),
        client_id=str(claims.get("azp", claims.get("client_id", ""))),
        roles=frozenset(str(r) for r in realm_roles if isinstance(r, str)),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        acr=str(claims.get("acr", "")),
        org_path=str(claims.get("org_path", "")),
        expires_at=int(claims["exp"]),
        claims=claims,
    )
