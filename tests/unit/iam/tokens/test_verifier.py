"""TokenVerifier: every RFC 7519/8725 rule it enforces, on real RS256 JWTs from LocalIssuer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from iam.errors import IdentityProviderUnavailable, Unauthenticated
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier, principal_from_claims

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(issuer: LocalIssuer, clock: Clock) -> TokenVerifier:
    return TokenVerifier(issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=clock)


def test_valid_token_gives_the_principal(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = issuer.token(
        NOW,
        sub="u-1",
        realm_access={"roles": ["auditor", 7]},
        resource_access={"anbao-api": {"roles": ["reader"]}, "other": {"roles": ["boss"]}},
        scope="openid profile",
        acr="2",
        groups=["/province/city"],
    )
    principal = verifier.verify(token)
    assert principal.subject == "u-1"
    assert principal.roles == {"auditor"}
    assert principal.client_roles == {"reader"}  # another client's roles never count
    assert principal.scopes == {"openid", "profile"}
    assert principal.acr == "2"
    assert principal.org_path == "/province/city"
    assert principal.expires_at == int(NOW) + 300
    assert verifier.algorithms == ("RS256",)


def test_audience_may_be_a_list(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = issuer.token(NOW, aud=["account", "anbao-api"])
    assert verifier.verify(token).client_id == "test-client"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(NOW) - 31}, "expired beyond leeway"),
        ({"nbf": int(NOW) + 31}, "not yet valid"),
        ({"iat": int(NOW) + 31}, "issued in the future"),
        ({"iss": "https://evil.test/realms/anbao"}, "wrong issuer"),
        ({"aud": "another-api"}, "wrong audience"),
        ({"aud": ["a", "b"]}, "audience list without us"),
        ({"sub": None}, "no subject"),
        ({"exp": None}, "no expiry"),
        ({"typ": "ID"}, "an ID token"),
        ({"typ": "Refresh"}, "a refresh token"),
        ({"exp": "tomorrow"}, "exp not a number"),
    ],
)
def test_bad_claims_are_rejected(
    issuer: LocalIssuer, verifier: TokenVerifier, claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify(issuer.token(NOW, **claims))


def test_small_leeway_tolerates_clock_skew(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = issuer.token(NOW, exp=int(NOW) - 10, nbf=int(NOW) + 10, iat=int(NOW) + 10)
    assert verifier.verify(token).subject


def test_alg_none_is_rejected(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = compact({"alg": "none", "kid": issuer.key.kid}, issuer.claims(NOW))
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
    with pytest.raises(Unauthenticated):
        verifier.verify(token.rstrip("."))


def test_hs256_signed_with_the_public_key_is_rejected(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    """RFC 8725 §2.1: the classic key-confusion attack, with every public form of the key."""
    public = issuer.key.as_dict(private=False)
    secrets = [
        issuer.key.as_pem(private=False),
        json.dumps(public).encode(),
        base64.urlsafe_b64decode(public["n"] + "=="),
    ]
    for secret in secrets:
        head = b64(json.dumps({"alg": "HS256", "kid": issuer.key.kid}).encode())
        body = b64(json.dumps(issuer.claims(NOW)).encode())
        mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        with pytest.raises(Unauthenticated):
            verifier.verify(f"{head}.{body}.{b64(mac)}")


def test_algorithm_must_match_the_published_key(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    unbound = RSAKey.import_key(
        {k: v for k, v in issuer.key.as_dict(private=True).items() if k != "alg"}
    )
    token = jwt.encode(
        {"alg": "PS256", "kid": issuer.key.kid}, issuer.claims(NOW), unbound, algorithms=["PS256"]
    )
    with pytest.raises(Unauthenticated, match="algorithm"):
        verifier.verify(token)


def test_tampered_payload_is_rejected(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    head, _, sig = issuer.token(NOW).split(".")
    forged = b64(
        json.dumps(issuer.claims(NOW, realm_access={"roles": ["platform-admin"]})).encode()
    )
    with pytest.raises(Unauthenticated, match="signature"):
        verifier.verify(f"{head}.{forged}.{sig}")


def test_token_signed_by_another_key_with_our_kid_is_rejected(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    other = LocalIssuer(issuer=issuer.issuer)
    token = jwt.encode({"alg": "RS256", "kid": issuer.key.kid}, other.claims(NOW), other.key)
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_token_without_kid_is_rejected(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = jwt.encode({"alg": "RS256"}, issuer.claims(NOW), issuer.key)
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c", "a.b.c.d.e", "ü.ü.ü", "x" * 20_000, "e30.e30.", "W10.e30.AA"],
)
def test_malformed_tokens_are_rejected(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


_SHARED = LocalIssuer()


@given(
    st.text(max_size=300)
    | st.from_regex(r"[A-Za-z0-9_\-]{0,60}\.[A-Za-z0-9_\-]{0,60}\.[A-Za-z0-9_\-]{0,60}")
)
def test_arbitrary_text_only_ever_raises_unauthenticated(text: str) -> None:
    verifier = TokenVerifier(
        issuer=_SHARED.issuer, audience=_SHARED.audience, jwks=_SHARED, clock=Clock()
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(text)


def test_unknown_kid_refetches_once_per_interval(
    issuer: LocalIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    verifier.verify(issuer.token(NOW))
    assert issuer.fetches == 1
    clock.now += 11
    stranger = issuer.token(NOW, header={"kid": "nobody"})
    for _ in range(50):
        with pytest.raises(Unauthenticated, match="unknown key"):
            verifier.verify(stranger)
    assert issuer.fetches == 2  # one refetch, then rate-limited
    clock.now += 11
    with pytest.raises(Unauthenticated):
        verifier.verify(stranger)
    assert issuer.fetches == 3


def test_key_rotation_is_picked_up_without_restart(
    issuer: LocalIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    old = issuer.token(NOW)
    verifier.verify(old)
    clock.now += 60
    issuer.rotate()  # the old key is withdrawn from the JWKS
    new = issuer.token(clock.now)
    assert verifier.verify(new).subject
    # The withdrawn key's tokens left the cache with it and no longer verify.
    assert verifier.cached(old) is None
    with pytest.raises(Unauthenticated):
        verifier.verify(old)


def test_cache_serves_repeat_tokens_but_never_at_or_after_exp(
    issuer: LocalIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    token = issuer.token(NOW, exp=int(NOW) + 100)
    assert verifier.cached(token) is None
    principal = verifier.verify(token)
    assert verifier.cached(token) is principal
    clock.now = NOW + 100  # exactly exp: RFC 7519 §4.1.4 "on or after"
    assert verifier.cached(token) is None
    clock.now = NOW + 131  # and past the leeway full verification fails too
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_cache_is_bounded_oldest_first(issuer: LocalIssuer, clock: Clock) -> None:
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=clock, cache_size=2
    )
    a, b, c = (issuer.token(NOW) for _ in range(3))
    verifier.verify(a)
    verifier.verify(b)
    verifier.verify(c)  # evicts a, the oldest insertion (and the first to expire)
    assert verifier.cached(a) is None
    assert verifier.cached(b) is not None
    assert verifier.cached(c) is not None
    verifier.verify(a)  # verified again from scratch, evicting b
    assert verifier.cached(b) is None


def test_cache_can_be_disabled(issuer: LocalIssuer, clock: Clock) -> None:
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=issuer, clock=clock, cache_size=0
    )
    token = issuer.token(NOW)
    verifier.verify(token)
    assert verifier.cached(token) is None


class StaticJwks:
    def __init__(self, document: Mapping[str, Any] | Exception) -> None:
        self.document = document

    def fetch(self) -> Mapping[str, Any]:
        if isinstance(self.document, Exception):
            raise self.document
        return self.document


def test_only_public_asymmetric_signature_keys_are_trusted(issuer: LocalIssuer) -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec", "alg": "ES256", "use": "sig"})
    document = {
        "keys": [
            issuer.key.as_dict(private=False),
            {"kty": "oct", "kid": "hmac", "alg": "HS256", "k": b64(b"secret")},
            {
                **RSAKey.generate_key(2048).as_dict(private=False),
                "kid": "enc",
                "alg": "RSA-OAEP",
                "use": "enc",
            },
            {**RSAKey.generate_key(2048).as_dict(private=True), "kid": "leaked", "alg": "RS256"},
            {"kty": "RSA", "kid": "broken", "alg": "RS256", "n": "AA"},
            {k: v for k, v in ec.as_dict(private=False).items() if k != "alg"} | {"kid": "noalg"},
            ec.as_dict(private=False),
            "not a key",
        ]
    }
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=StaticJwks(document), clock=Clock()
    )
    verifier.refresh()
    assert verifier.algorithms == ("ES256", "RS256")
    assert verifier.verify(jwt.encode({"alg": "ES256", "kid": "ec"}, issuer.claims(NOW), ec))
    hs = jwt.encode(
        {"alg": "HS256", "kid": "hmac"}, issuer.claims(NOW), OctKey.import_key(b"secret" * 6)
    )
    with pytest.raises(Unauthenticated):
        verifier.verify(hs)


def test_jwks_unreachable_at_start_is_unavailable_not_unauthenticated(
    issuer: LocalIssuer,
) -> None:
    down = StaticJwks(IdentityProviderUnavailable("down"))
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=down, clock=Clock()
    )
    with pytest.raises(IdentityProviderUnavailable):
        verifier.verify(issuer.token(NOW))


def test_jwks_outage_later_keeps_known_keys(issuer: LocalIssuer, clock: Clock) -> None:
    source = StaticJwks(issuer.fetch())
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=issuer.audience, jwks=source, clock=clock
    )
    verifier.verify(issuer.token(NOW))
    source.document = IdentityProviderUnavailable("down")
    clock.now += 60
    assert verifier.verify(issuer.token(clock.now)).subject
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(issuer.token(clock.now, header={"kid": "rotated"}))


def test_principal_from_claims_tolerates_odd_shapes() -> None:
    principal = principal_from_claims(
        {
            "sub": "s",
            "exp": 5,
            "realm_access": "x",
            "resource_access": [],
            "scope": 3,
            "groups": "g",
        },
        audience="api",
    )
    assert principal.roles == frozenset()
    assert principal.client_roles == frozenset()
    assert principal.scopes == frozenset()
    assert principal.org_path == ""


def test_critical_header_extensions_are_refused(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    """RFC 7515 §4.1.11: a ``crit`` extension we do not understand invalidates the token."""
    verifier.refresh()
    token = _sign(issuer, issuer.claims(NOW), crit=["urn:x"], **{"urn:x": 1})
    with pytest.raises(Unauthenticated, match="extensions"):
        verifier.verify(token)


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), "1800000000", None])
def test_exp_must_be_a_finite_number(
    issuer: LocalIssuer, verifier: TokenVerifier, value: object
) -> None:
    assert verifier.verify(_sign(issuer, issuer.claims(NOW))).subject  # the signer is sound
    claims = issuer.claims(NOW)
    claims["exp"] = value
    with pytest.raises(Unauthenticated):
        verifier.verify(_sign(issuer, claims))


def _sign(issuer: LocalIssuer, claims: dict[str, Any], **header: Any) -> str:
    """Sign arbitrary JSON (NaN included) with the issuer's key, bypassing claim encoders."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    head = b64(json.dumps({"alg": "RS256", "kid": issuer.key.kid, **header}).encode())
    body = b64(json.dumps(claims).encode())
    private = issuer.key.private_key
    assert private is not None
    signature = private.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64(signature)}"


def test_try_verify_never_fetches(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = issuer.token(NOW)
    assert verifier.try_verify(token) is None  # no keys yet: the caller must use a thread
    assert issuer.fetches == 0
    assert verifier.verify(token).subject
    assert verifier.try_verify(issuer.token(NOW)) is not None
    assert verifier.try_verify(issuer.token(NOW, header={"kid": "other"})) is None
    assert issuer.fetches == 1


@pytest.mark.parametrize(
    "header",
    [
        b'{"kid":"k","alg":"RS256","x":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b"[" * 5_000,
        b'{"kid":"\\ud800","alg":"RS256"}',
        b'{"kid":"k","alg":"RS256","n":NaN}',
    ],
)
def test_hostile_jose_header_is_unauthenticated(verifier: TokenVerifier, header: bytes) -> None:
    """A RecursionError (deep nesting) once escaped the parser as a 500."""
    token = f"{b64(header)}.{b64(b'{}')}.{b64(b'sig')}"
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
