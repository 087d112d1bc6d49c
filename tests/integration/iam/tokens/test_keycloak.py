"""The SDK against the real Keycloak: attack tokens are 401, rotation, introspection, RFC 9470."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import falcon
import falcon.asgi
import falcon.testing
import httpx
import pytest
from joserfc.jwk import RSAKey

from anbao.web import errors
from iam.tokens.falcon import AuthMiddleware, requires
from iam.tokens.keycloak import KeycloakJwks, keycloak_introspection, keycloak_verifier
from iam.tokens.verifier import TokenVerifier
from tests.integration.conftest import Server
from tests.integration.iam.kc_realm import KcRealm, create_realm, delete_realm

LIFESPAN = 300
LEEWAY = 30


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[KcRealm]:
    realm = create_realm(keycloak, "tok", roles=("auditor",))
    yield realm
    delete_realm(keycloak, realm)


@pytest.fixture(scope="module")
def other_realm(keycloak: Server, realm: KcRealm) -> Iterator[KcRealm]:
    """Another institution's realm on the same server, issuing for the same audience name."""
    other = create_realm(keycloak, "tok-other")
    other.add_client("svc2", audience=realm.audience)
    yield other
    delete_realm(keycloak, other)


class Whoami:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        p = req.context.principal
        resp.media = {"sub": p.subject, "client": p.client_id, "roles": sorted(p.roles)}


class Strong:
    @requires(acr="2")
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True}


class Revocable:
    @requires(roles=["auditor"], introspect=True)
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True}


_OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def make_client(realm: KcRealm, verifier: TokenVerifier) -> falcon.testing.TestClient:
    introspection = keycloak_introspection(
        realm.url, realm.name, client_id=realm.audience, client_secret=realm.api_secret
    )
    _OPEN.extend([verifier, introspection])
    app = falcon.asgi.App(middleware=[AuthMiddleware(verifier, introspection=introspection)])
    errors.install(app)
    app.add_route("/whoami", Whoami())
    app.add_route("/strong", Strong())
    app.add_route("/revocable", Revocable())
    return falcon.testing.TestClient(app)


def verifier_at(realm: KcRealm, clock: Callable[[], float] = time.time) -> TokenVerifier:
    return keycloak_verifier(
        realm.url,
        realm.name,
        audience=realm.audience,
        clock=clock,
        leeway_seconds=LEEWAY,
        min_refresh_seconds=0.5,
    )


def get(client: falcon.testing.TestClient, token: str | None, path: str = "/whoami") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.simulate_get(path, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reheader(token: str, **changes: Any) -> tuple[dict[str, Any], str, str]:
    head, body, sig = token.split(".")
    header = {**json.loads(unb64(head)), **changes}
    return header, body, sig


def test_real_token_is_accepted(realm: KcRealm) -> None:
    result = get(make_client(realm, verifier_at(realm)), realm.token())
    assert result.status_code == 200, result.text
    assert result.json["client"] == "svc"
    assert "auditor" in result.json["roles"]


def test_attack_tokens_are_all_401(realm: KcRealm, other_realm: KcRealm) -> None:
    token = realm.token()
    client = make_client(realm, verifier_at(realm))
    header, body, sig = reheader(token)
    source = KeycloakJwks(realm.url, realm.name)
    _OPEN.append(source)
    jwks = source.fetch()
    rsa = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public_pem = RSAKey.import_key(rsa).as_pem(private=False)

    none_header = b64(json.dumps({**header, "alg": "none"}).encode())
    hs_header = b64(json.dumps({**header, "alg": "HS256"}).encode())
    hs_mac = hmac.new(public_pem, f"{hs_header}.{body}".encode(), hashlib.sha256).digest()
    unknown_kid = b64(json.dumps({**header, "kid": "not-" + header["kid"]}).encode())
    claims = json.loads(unb64(body))
    forged = b64(json.dumps({**claims, "realm_access": {"roles": ["platform-admin"]}}).encode())
    wrong_aud_client = f"noaud-{secrets.token_hex(3)}"
    secret = realm.add_client(wrong_aud_client)

    attacks = {
        "alg none": f"{none_header}.{body}.",
        "HS256 with the RSA public key": f"{hs_header}.{body}.{b64(hs_mac)}",
        "unknown kid": f"{unknown_kid}.{body}.{sig}",
        "tampered payload": f"{token.split('.')[0]}.{forged}.{sig}",
        # Same realm, same keys, but fetched through another host name: iss differs.
        "wrong issuer": realm.token(base=realm.url.replace("127.0.0.1", "localhost")),
        "wrong audience": realm.token(client_id=wrong_aud_client, secret=secret),
        "another realm": other_realm.token(
            client_id="svc2", secret=other_realm_secret(other_realm)
        ),
    }
    for name, attack in attacks.items():
        result = get(client, attack)
        assert result.status_code == 401, (name, result.text)
        assert 'error="invalid_token"' in result.headers["www-authenticate"], name

    # Time attacks with the injected clock: the real token is judged at another moment.
    issued = claims["iat"]
    expired = make_client(realm, verifier_at(realm, lambda: issued + LIFESPAN + LEEWAY + 1))
    assert get(expired, token).status_code == 401
    early = make_client(realm, verifier_at(realm, lambda: issued - LEEWAY - 5))
    assert get(early, token).status_code == 401

    missing = get(client, None)
    assert missing.status_code == 401
    assert "error=" not in missing.headers["www-authenticate"]
    for header_value in ("Basic " + b64(b"svc:x"), "Bearer", f"Bearer {token} extra", "Token x"):
        result = client.simulate_get("/whoami", headers={"Authorization": header_value})
        assert result.status_code == 401, header_value
    assert get(client, token).status_code == 200  # the real one still passes


def other_realm_secret(other: KcRealm) -> str:
    internal = other.admin.get_client_id("svc2")
    return str(other.admin.get_client_secrets(internal)["value"])


def test_weak_acr_asks_for_step_up(realm: KcRealm) -> None:
    result = get(make_client(realm, verifier_at(realm)), realm.token(), "/strong")
    assert result.status_code == 401
    challenge = result.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="2"' in challenge


def test_introspection_notices_revocation(realm: KcRealm) -> None:
    client = make_client(realm, verifier_at(realm))
    token = realm.token()
    assert get(client, token, "/revocable").status_code == 200
    assert get(client, token).status_code == 200
    revoke = httpx.post(
        f"{realm.issuer}/protocol/openid-connect/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(realm.client_id, realm.client_secret),
        timeout=10,
    )
    assert revoke.status_code == 200, revoke.text
    # Locally the token is still a valid JWT; the introspecting route asks Keycloak.
    assert get(client, token).status_code == 200
    fresh = make_client(realm, verifier_at(realm))  # a new introspection cache
    result = get(fresh, token, "/revocable")
    assert result.status_code == 401, result.text


def add_key_provider(realm: KcRealm, priority: int) -> str:
    realm_id = realm.admin.get_realm(realm.name)["id"]
    return realm.admin.create_component(
        {
            "name": f"rsa-rotated-{priority}",
            "providerId": "rsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm_id,
            "config": {
                "priority": [str(priority)],
                "enabled": ["true"],
                "active": ["true"],
                "keySize": ["2048"],
                "algorithm": ["RS256"],
            },
        }
    )


def test_key_rotation_without_restart(realm: KcRealm) -> None:
    verifier = verifier_at(realm)
    client = make_client(realm, verifier)
    old = realm.token()
    assert get(client, old).status_code == 200
    old_kid = reheader(old)[0]["kid"]

    provider = add_key_provider(realm, 1000)
    new = realm.token()
    new_kid = reheader(new)[0]["kid"]
    assert new_kid != old_kid
    time.sleep(0.6)  # past min_refresh_seconds: the unknown kid triggers one refetch
    assert get(client, new).status_code == 200, "the new key was picked up without a restart"
    assert get(client, old).status_code == 200, "the old key stays published, its tokens valid"

    # Withdraw the old keys (disable every other provider): their tokens stop verifying.
    for component in realm.admin.get_components({"type": "org.keycloak.keys.KeyProvider"}):
        if component["id"] != provider and component["providerId"] == "rsa-generated":
            component["config"]["active"] = ["false"]
            component["config"]["enabled"] = ["false"]
            realm.admin.update_component(component["id"], component)
    time.sleep(0.6)
    assert get(client, realm.token()).status_code == 200
    stranger = realm.token()  # forces nothing; now ask with a token of an unknown kid
    header, body, sig = reheader(stranger, kid="rotate-probe")
    assert get(client, f"{b64(json.dumps(header).encode())}.{body}.{sig}").status_code == 401
    assert get(client, old).status_code == 401, "tokens of a withdrawn key are rejected"


def test_closed_adapters_reopen(realm: KcRealm) -> None:
    """Lifespan shutdown closes connections; a later fetch must still work (test clients)."""
    source = KeycloakJwks(realm.url, realm.name)
    first = source.fetch()
    source.close()
    try:
        assert source.fetch()["keys"] == first["keys"]
    finally:
        source.close()
