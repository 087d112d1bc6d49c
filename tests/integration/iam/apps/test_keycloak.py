"""App onboarding against the real Keycloak: the clients work as registered, and only so."""

from __future__ import annotations

import http.server
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import RSAKey

from iam.apps.keycloak import KeycloakAppDirectory
from iam.apps.model import parse_registration, parse_update
from iam.apps.service import AppService
from iam.errors import Conflict, NotFound
from iam.tokens.keycloak import keycloak_verifier
from iam.tokens.model import Principal
from tests.integration.conftest import Server
from tests.integration.iam.kc_realm import (
    KcRealm,
    admin_for,
    browserless_login,
    create_realm,
    delete_realm,
)

REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "Ab1!" + secrets.token_urlsafe(12)


def developer(subject: str) -> Principal:
    return Principal(
        subject=subject,
        username=subject,
        client_id="test",
        roles=frozenset({"app-developer"}),
        scopes=frozenset(),
        acr="1",
        org_path="",
        expires_at=2**40,
        claims={},
    )


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[KcRealm]:
    realm = create_realm(keycloak, "apps")
    realm.admin.create_user(
        {
            "username": "citizen",
            "email": "citizen@example.gov.cn",
            "firstName": "Ming",
            "lastName": "Li",
            "enabled": True,
            "emailVerified": True,
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        }
    )
    yield realm
    delete_realm(keycloak, realm)


@pytest.fixture(scope="module")
def service(keycloak: Server, realm: KcRealm) -> AppService:
    directory = KeycloakAppDirectory(lambda: admin_for(keycloak, realm.name), realm.name)
    return AppService(directory, issuer=realm.issuer, clock=time.time)


def token_endpoint(realm: KcRealm) -> str:
    return f"{realm.issuer}/protocol/openid-connect/token"


def client_credentials(realm: KcRealm, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        token_endpoint(realm),
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )


def test_confidential_app_lifecycle(realm: KcRealm, service: AppService) -> None:
    alice = developer("alice")
    created = service.register(
        alice,
        parse_registration(
            {
                "client_id": "permits-api",
                "type": "confidential",
                "service_account": True,
                "redirect_uris": ["https://permits.example.gov.cn/cb"],
                "roles": ["clerk", "approver"],
                "scopes": ["email"],
            }
        ),
    )
    assert created.client_secret
    discovery = httpx.get(created.discovery_url, timeout=10).json()
    assert discovery["issuer"] == realm.issuer
    assert created.app.roles == ("approver", "clerk")
    assert created.app.scopes == ("email",)

    token = client_credentials(realm, "permits-api", created.client_secret)
    assert token.status_code == 200, token.text
    verifier = keycloak_verifier(realm.url, realm.name, audience="permits-api")
    try:  # the app's own API verifies its tokens with audience = client_id
        assert verifier.verify(token.json()["access_token"]).client_id == "permits-api"
    finally:
        verifier.close()

    rotated = service.rotate_secret(alice, "permits-api")
    assert rotated.client_secret != created.client_secret
    assert client_credentials(realm, "permits-api", created.client_secret).status_code == 401
    assert client_credentials(realm, "permits-api", str(rotated.client_secret)).status_code == 200

    service.disable(alice, "permits-api")
    refused = client_credentials(realm, "permits-api", str(rotated.client_secret))
    assert refused.status_code in {400, 401}
    assert service.describe(alice, "permits-api").enabled is False
    service.update(alice, "permits-api", parse_update({"enabled": True}))
    assert client_credentials(realm, "permits-api", str(rotated.client_secret)).status_code == 200


def test_ownership_conflicts_and_unmanaged_clients(realm: KcRealm, service: AppService) -> None:
    service.register(
        developer("carol"),
        parse_registration(
            {"client_id": "carol-app", "type": "public", "redirect_uris": ["https://c.example.cn/"]}
        ),
    )
    with pytest.raises(Conflict):
        service.register(
            developer("dave"),
            parse_registration(
                {"client_id": "carol-app", "type": "public", "redirect_uris": ["https://d.cn/"]}
            ),
        )
    with pytest.raises(NotFound):
        service.describe(developer("dave"), "carol-app")
    admin = Principal(**_admin())
    listed = {a.client_id for a in service.list(admin)}
    assert "carol-app" in listed
    assert realm.client_id not in listed  # created outside Anbao: invisible
    with pytest.raises(NotFound):
        service.describe(admin, realm.client_id)
    with pytest.raises(Conflict):  # and not registrable under its existing id either
        service.register(
            admin,
            parse_registration(
                {"client_id": realm.client_id, "type": "confidential", "service_account": True}
            ),
        )


def _admin() -> dict[str, Any]:
    return {
        "subject": "root",
        "username": "root",
        "client_id": "test",
        "roles": frozenset({"platform-admin"}),
        "scopes": frozenset(),
        "acr": "1",
        "org_path": "",
        "expires_at": 2**40,
        "claims": {},
    }


def test_public_app_login_with_pkce(realm: KcRealm, service: AppService) -> None:
    created = service.register(
        developer("erin"),
        parse_registration(
            {"client_id": "spa-portal", "type": "public", "redirect_uris": [REDIRECT]}
        ),
    )
    assert created.client_secret is None
    authorize = f"{realm.issuer}/protocol/openid-connect/auth"

    # Without PKCE Keycloak refuses the authorization request (RFC 7636 §4.4.1).
    plain = requests.get(
        authorize,
        params={
            "client_id": "spa-portal",
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert plain.status_code == 302
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["error"] == ["invalid_request"]
    # A redirect URI that was not registered exactly is refused outright.
    stray = requests.get(
        authorize,
        params={
            "client_id": "spa-portal",
            "redirect_uri": REDIRECT + "/x",
            "response_type": "code",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert stray.status_code == 400

    # Authorization code + PKCE S256 with authlib, as the example app does it.
    with OAuth2Session(
        "spa-portal", redirect_uri=REDIRECT, scope="openid", code_challenge_method="S256"
    ) as oauth:
        verifier = generate_token(48)
        url, _state = oauth.create_authorization_url(authorize, code_verifier=verifier)
        callback = browserless_login(url, "citizen", PASSWORD)
        token = oauth.fetch_token(
            token_endpoint(realm), authorization_response=callback, code_verifier=verifier
        )
    check = keycloak_verifier(realm.url, realm.name, audience="spa-portal")
    try:
        principal = check.verify(token["access_token"])
    finally:
        check.close()
    assert principal.username == "citizen"
    assert principal.acr == "1"


class _JwksServer:
    """Publishes a JWKS on a loopback port, as an app publishes its keys for Keycloak."""

    def __init__(self, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _client_assertion(realm: KcRealm, client_id: str, key: RSAKey) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": realm.issuer,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def _token_with_assertion(realm: KcRealm, client_id: str, assertion: str) -> httpx.Response:
    return httpx.post(
        token_endpoint(realm),
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
        timeout=10,
    )


@pytest.mark.parametrize("source", ["jwks", "jwks_url"])
def test_private_key_jwt_app(realm: KcRealm, service: AppService, source: str) -> None:
    """RFC 7523 §2.2 client authentication, keys given inline or published at a URL."""
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
    client_id = f"court-{source.replace('_', '-')}"
    jwks = {"keys": [key.as_dict(private=False)]}
    with _JwksServer(jwks) as published:
        keys = {"jwks": jwks} if source == "jwks" else {"jwks_url": published.url}
        created = service.register(
            developer("frank"),
            parse_registration(
                {
                    "client_id": client_id,
                    "type": "confidential",
                    "auth_method": "private_key_jwt",
                    "service_account": True,
                    **keys,
                }
            ),
        )
        assert created.client_secret is None
        signed = _client_assertion(realm, client_id, key)
        assert _token_with_assertion(realm, client_id, signed).status_code == 200
        impostor = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
        forged = _client_assertion(realm, client_id, impostor)
        assert _token_with_assertion(realm, client_id, forged).status_code in {400, 401}
