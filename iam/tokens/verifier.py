"""Local verification of Keycloak access tokens against the realm's JWKS (RFC 7515/7517/7519).

JOSE is done by joserfc. authlib's own ``authlib.jose`` is deprecated in favour of joserfc (the
same authors' successor, typed and maintained), so resource servers use joserfc directly and
authlib only for the client side (login with authorization code + PKCE). Around joserfc this
module adds what a resource server needs and no library packages together:

* an algorithm allow-list taken from the JWKS itself: only signature keys (``use`` = ``sig``) of
  asymmetric families, and a token's ``alg`` must equal the ``alg`` its ``kid`` is published
  with, so ``none`` and HS* signed with a public key (RFC 8725 §2.1, §3.1) can never verify;
* a key cache refetched on an unknown ``kid`` at most once per ``min_refresh_seconds``: it
  survives Keycloak key rotation without a restart and cannot be turned into a fetch storm;
* ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat`` with a small leeway (RFC 7519 §4.1), ``sub``
  required, and only access tokens (Keycloak's ``typ`` claim ``Bearer``; RFC 9068 ``at+jwt``);
* a bounded cache of verified tokens (oldest insertions evicted first) keyed by their SHA-256,
  never used at or after ``exp``, because real clients send the same token many times and the
  signature check dominates the cost of a request.

The compact serialization is split here and the signature checked by joserfc's algorithm
model for the key's ``alg`` (RFC 7515 §5.2); the registered claims are checked here too
(RFC 7519 §4.1) in the same pass, rather than decoding with joserfc's generic ``jwt.decode``
and then running its claims registry (the comparison: docs/app-developers.md, "Cost"). The core is framework-free and synchronous
(``verifier.verify(token)``); the JWKS fetch is injected (:class:`JwksSource`), and the clock.
A cached token stays accepted until its ``exp`` even if its session is revoked at Keycloak:
routes that must notice revocation ask for RFC 7662 introspection as well
(:mod:`iam.tokens.introspection`). JWKS entries without ``alg`` or ``kid`` are ignored (Keycloak sets
both); a token without ``kid`` is refused.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeGuard

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import Key, KeySet
from joserfc.util import urlsafe_b64decode

from crypto import strict_json
from iam.errors import IamError, IdentityProviderUnavailable, Unauthenticated
from iam.tokens.model import Principal

log = logging.getLogger("iam.tokens")

#: Asymmetric JWS families (RFC 7518 §3.3-3.5, RFC 8037). HS* and ``none`` are never allowed.
_ASYMMETRIC_PREFIXES = ("RS", "PS", "ES", "EdDSA", "Ed25519", "Ed448")
#: Keycloak marks access tokens with ``typ: Bearer``; ID and refresh tokens differ.
_ACCESS_TYPES = frozenset({"Bearer"})
_ACCESS_HEADER_TYPES = frozenset({"JWT", "at+jwt", "application/at+jwt"})
#: Compact JWS larger than this is refused before any parsing (Keycloak tokens are ~1-3 KiB).
MAX_TOKEN_BYTES = 16_384
#: Distinct verified token headers remembered (a realm has one per active key).
_HEADER_CACHE = 64


class JwksSource(Protocol):
    """Where the realm's public keys come from (HTTP in production, a dict in unit tests)."""

    def fetch(self) -> Mapping[str, Any]: ...


class _Keys:
    """An immutable snapshot of the usable signature keys: ``kid`` -> (key, alg, algorithm)."""

    __slots__ = ("by_kid",)

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.by_kid: dict[str, tuple[Key, str, JWSAlgModel]] = {}
        entries = document.get("keys")
        for entry in entries if isinstance(entries, list) else []:
            if not _is_signature_key(entry):
                continue
            alg = str(entry["alg"])
            try:
                key = KeySet.import_key_set({"keys": [entry]}).keys[0]
                model = jws.JWSRegistry(algorithms=[alg]).get_alg(alg)
                model.check_key(key)
            except (JoseError, ValueError, TypeError, KeyError):
                log.warning("ignoring an unusable key in the JWKS (kid %s)", entry.get("kid"))
                continue
            if key.is_private:
                continue  # a private key in a public JWKS is a publishing error: never use it
            self.by_kid[str(entry["kid"])] = (key, alg, model)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(sorted({alg for _, alg, _ in self.by_kid.values()}))


def _is_signature_key(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("kid"), str)
        and isinstance(entry.get("alg"), str)
        and entry.get("use", "sig") == "sig"
        and str(entry["alg"]).startswith(_ASYMMETRIC_PREFIXES)
    )


class TokenVerifier:
    """Verifies bearer tokens for one issuer and audience; thread-safe.

    ``verify(token)`` returns a :class:`~iam.tokens.model.Principal` or raises
    :class:`~iam.errors.Unauthenticated` (401), or
    :class:`~iam.errors.IdentityProviderUnavailable` (503) when no key set was ever fetched;
    never a library exception. ``cache_size=0`` disables the verified-token cache.
    """

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
        self._fetch_lock = threading.Lock()
        self._keys: _Keys | None = None
        self._last_fetch = float("-inf")
        self._cache: dict[bytes, Principal] = {}
        self._cache_size = cache_size
        self._headers: dict[bytes, dict[str, Any]] = {}

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms currently accepted (those of the published signature keys)."""
        return self._keys.algorithms if self._keys else ()

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid access token, else raise :class:`Unauthenticated`."""
        principal = self._verify(token, fetch=True)
        if principal is None:  # pragma: no cover - with fetch=True a key is found or it raises
            raise Unauthenticated("The access token was signed with an unknown key.")
        return principal

    def try_verify(self, token: str) -> Principal | None:
        """Like :meth:`verify`, but ``None`` where a JWKS fetch would be needed first.

        Never blocks on the network, so an event loop can call it inline and hand only the
        rare fetch (start-up, rotation) to a thread.
        """
        return self._verify(token, fetch=False)

    def cached(self, token: str) -> Principal | None:
        """The principal of an already verified, unexpired token; ``None`` if not cached."""
        return self._cached(_digest(token), self._clock())

    def needs_key_fetch(self, token: str) -> bool:
        """True when verifying may first fetch the JWKS (lets async callers use a thread)."""
        keys = self._keys
        if keys is None:
            return True
        try:
            kid = self._header(_split(token)[0])["kid"]
        except Unauthenticated:
            return False
        return kid not in keys.by_kid

    def close(self) -> None:
        """Release the JWKS source's connections (if it holds any)."""
        close = getattr(self._jwks, "close", None)
        if callable(close):
            close()

    def refresh(self) -> None:
        """Fetch the JWKS now (start-up warm-up); honours the refresh rate limit."""
        self._refresh(self._clock(), force=True)

    # -- cache -------------------------------------------------------------------------------

    def _cached(self, digest: bytes, now: float) -> Principal | None:
        # Lock-free read (a dict lookup is atomic); FIFO order, so a hit changes nothing.
        principal = self._cache.get(digest)
        if principal is None:
            return None
        if now >= principal.expires_at:  # RFC 7519 §4.1.4: on or after exp, never
            with self._lock:
                self._cache.pop(digest, None)
            return None
        return principal

    def _remember(self, digest: bytes, principal: Principal) -> None:
        """Insert; when full, drop the oldest insertions (they are also the first to expire)."""
        if self._cache_size <= 0:
            return
        with self._lock:
            self._cache[digest] = principal
            while len(self._cache) > self._cache_size:
                del self._cache[next(iter(self._cache))]

    # -- verification ------------------------------------------------------------------------

    def _verify(self, token: str, *, fetch: bool) -> Principal | None:
        digest = _digest(token)
        now = self._clock()
        cached = self._cached(digest, now)
        if cached is not None:
            return cached
        principal = self._verify_uncached(token, now, fetch=fetch)
        if principal is not None:
            self._remember(digest, principal)
        return principal

    def _verify_uncached(self, token: str, now: float, *, fetch: bool) -> Principal | None:
        head, payload, signature = _split(token)
        header = self._header(head)
        kid, alg = header["kid"], header["alg"]
        keys = self._keys
        found = keys.by_kid.get(kid) if keys is not None else None
        if found is None:
            if not fetch:
                return None
            found = self._key_for(kid, now)
        key, key_alg, model = found
        if alg != key_alg:  # RFC 8725 §3.1: the key decides the algorithm, not the token
            raise Unauthenticated("The access token's algorithm is not allowed.")
        try:
            valid = model.verify(head + b"." + payload, urlsafe_b64decode(signature), key)
        except (JoseError, ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise Unauthenticated("The access token is invalid.") from exc
        if not valid:
            raise Unauthenticated("The access token's signature is invalid.")
        claims = _claims(payload)
        self._check_claims(claims, now)
        if len(self._headers) < _HEADER_CACHE:
            self._headers[head] = header  # only headers of verified tokens are remembered
        return principal_from_claims(claims, audience=self.audience)

    def _header(self, segment: bytes) -> dict[str, Any]:
        """The protected header (RFC 7515 §4): ``kid`` and ``alg`` strings, no ``crit``."""
        known = self._headers.get(segment)
        if known is not None:
            return known
        try:
            header = strict_json.loads(urlsafe_b64decode(segment))
        except (ValueError, UnicodeError) as exc:
            raise Unauthenticated("The access token is malformed.") from exc
        if not isinstance(header, dict):
            raise Unauthenticated("The access token is malformed.")
        if not isinstance(header.get("kid"), str) or not isinstance(header.get("alg"), str):
            raise Unauthenticated("The access token names no signing key.")
        if "crit" in header:  # RFC 7515 §4.1.11: we understand no extension, so refuse all
            raise Unauthenticated("The access token uses unsupported header extensions.")
        if header.get("typ", "JWT") not in _ACCESS_HEADER_TYPES:
            raise Unauthenticated("Only access tokens are accepted.")
        return header

    def _key_for(self, kid: str, now: float) -> tuple[Key, str, JWSAlgModel]:
        keys = self._keys
        if keys is None or kid not in keys.by_kid:
            self._refresh(now, force=False)
            keys = self._keys
        if keys is None:
            raise IdentityProviderUnavailable("The identity provider's keys are not available.")
        found = keys.by_kid.get(kid)
        if found is None:
            raise Unauthenticated("The access token was signed with an unknown key.")
        return found

    def _refresh(self, now: float, *, force: bool) -> None:
        """Refetch the JWKS unless one was fetched within ``min_refresh_seconds``."""
        with self._fetch_lock:
            if now - self._last_fetch < self._min_refresh and not (force and self._keys is None):
                return
            self._last_fetch = now
            try:
                document = self._jwks.fetch()
            except IamError:
                if self._keys is None:
                    raise
                log.warning("JWKS refetch failed; keeping the keys already known")
                return
            keys = _Keys(document)
            if not keys.by_kid and self._keys is not None:
                log.warning("the JWKS has no usable signature key; keeping the previous set")
                return
            self._install(keys)

    def _install(self, keys: _Keys) -> None:
        previous = self._keys
        self._keys = keys
        if previous is not None and not previous.by_kid.keys() <= keys.by_kid.keys():
            # A key was withdrawn (disabled or removed at Keycloak): tokens it signed must not
            # keep living in the cache until their exp.
            with self._lock:
                self._cache.clear()

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        """RFC 7519 §4.1 with ``leeway`` seconds of clock skew; ``sub`` and ``exp`` required."""
        if claims.get("iss") != self.issuer:  # §4.1.1
            raise Unauthenticated("The access token was issued by another issuer.")
        aud = claims.get("aud")  # §4.1.3: a string or an array of strings
        if aud != self.audience and not (isinstance(aud, list) and self.audience in aud):
            raise Unauthenticated("The access token is not meant for this service.")
        exp = claims.get("exp")  # §4.1.4
        if not _numeric(exp) or exp <= now - self._leeway:
            raise Unauthenticated("The access token has expired.")
        nbf = claims.get("nbf")  # §4.1.5
        if nbf is not None and (not _numeric(nbf) or nbf > now + self._leeway):
            raise Unauthenticated("The access token is not valid yet.")
        iat = claims.get("iat")  # §4.1.6
        if iat is not None and (not _numeric(iat) or iat > now + self._leeway):
            raise Unauthenticated("The access token was issued in the future.")
        sub = claims.get("sub")  # §4.1.2
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("The access token names no subject.")
        if claims.get("typ", "Bearer") not in _ACCESS_TYPES:
            raise Unauthenticated("Only access tokens are accepted.")


def _numeric(value: object) -> TypeGuard[int | float]:
    """A NumericDate (RFC 7519 §2): a finite JSON number; booleans and NaN are not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _digest(token: str) -> bytes:
    try:
        return hashlib.sha256(token.encode()).digest()
    except UnicodeError as exc:
        raise Unauthenticated("The access token is malformed.") from exc


def _split(token: str) -> tuple[bytes, bytes, bytes]:
    """The three segments of a JWS compact serialization (RFC 7515 §7.1), or raise."""
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:  # noqa: PLR2004
        raise Unauthenticated("The access token is malformed.")
    try:
        head, payload, signature = token.encode("ascii").split(b".")
    except UnicodeError as exc:
        raise Unauthenticated("The access token is malformed.") from exc
    if not head or not payload or not signature:
        raise Unauthenticated("The access token is malformed.")
    return head, payload, signature


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = strict_json.loads(urlsafe_b64decode(payload))
    except (ValueError, UnicodeError) as exc:
        raise Unauthenticated("The access token is malformed.") from exc
    if not isinstance(claims, dict):
        raise Unauthenticated("The access token is malformed.")
    return claims


def principal_from_claims(claims: Mapping[str, Any], *, audience: str = "") -> Principal:
    """The principal of verified claims: realm roles, the audience's client roles, scopes, acr.

    ``client_roles`` come from ``resource_access[audience]`` only: a role another client defines
    never counts for this service.
    """
    realm_access = claims.get("realm_access")
    realm_roles = realm_access.get("roles", []) if isinstance(realm_access, dict) else []
    resource_access = claims.get("resource_access")
    own = resource_access.get(audience) if isinstance(resource_access, dict) else None
    client_roles = own.get("roles", []) if isinstance(own, dict) else []
    scope = claims.get("scope", "")
    groups = claims.get("groups", [])
    group_list = [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
    org_path = claims.get("org_path")
    return Principal(
        subject=str(claims["sub"]),
        username=str(claims.get("preferred_username", "")),
        client_id=str(claims.get("azp", claims.get("client_id", ""))),
        roles=_strings(realm_roles),
        client_roles=_strings(client_roles),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        acr=str(claims.get("acr", "")),
        org_path=org_path if isinstance(org_path, str) else (group_list[0] if group_list else ""),
        groups=tuple(group_list),
        expires_at=int(claims["exp"]),
        claims=claims,
    )


def _strings(values: object) -> frozenset[str]:
    if not isinstance(values, list):
        return frozenset()
    return frozenset(v for v in values if isinstance(v, str))
