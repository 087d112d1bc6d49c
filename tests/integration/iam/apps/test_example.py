"""examples/permits_app.py end to end: onboard it, sign in with PKCE, call its protected API."""

from __future__ import annotations

import importlib.util
import secrets
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from urllib.parse import urlsplit

import falcon.testing
import pytest

from iam.apps.keycloak import KeycloakAppDirectory
from iam.apps.model import parse_registration
from iam.apps.service import AppService
from iam.tokens.keycloak import keycloak_verifier
from iam.tokens.model import Principal
from tests.integration.conftest import ROOT, Server
from tests.integration.iam.kc_realm import (
    KcRealm,
    admin_for,
    browserless_login,
    create_realm,
    delete_realm,
)

REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "Ab1!" + secrets.token_urlsafe(12)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "permits_app", ROOT / "examples" / "permits_app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["permits_app"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[KcRealm]:
    realm = create_realm(keycloak, "example")
    developer = Principal(
        subject="dev-1", username="dev", client_id="t", roles=frozenset({"app-developer"}),
        scopes=frozenset(), acr="1", org_path="", expires_at=2**40, claims={},
    )  # fmt: skip
    service = AppService(
        KeycloakAppDirectory(lambda: admin_for(keycloak, realm.name), realm.name),
        issuer=realm.issuer,
        clock=time.time,
    )
    service.register(
        developer,
        parse_registration(
            {
                "client_id": "permits-demo",
                "type": "public",
                "redirect_uris": [REDIRECT],
                "roles": ["approver"],
            }
        ),
    )
    user = realm.admin.create_user(
        {
            "username": "clerk", "email": "clerk@example.gov.cn", "firstName": "Hua",
            "lastName": "Wang", "enabled": True, "emailVerified": True,
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        }
    )  # fmt: skip
    client = realm.admin.get_client_id("permits-demo")
    role = realm.admin.get_client_role(client, "approver")
    realm.admin.assign_client_role(user, client, [role])
    yield realm
    delete_realm(keycloak, realm)


def test_example_app_sign_in_and_protected_api(realm: KcRealm) -> None:
    example = load_example()
    config = example.Config(
        keycloak=realm.url, realm=realm.name, client_id="permits-demo", redirect_uri=REDIRECT
    )
    verifier = keycloak_verifier(realm.url, realm.name, audience="permits-demo")
    try:
        walk_through(falcon.testing.TestClient(example.create_app(config, verifier)))
    finally:
        verifier.close()


def walk_through(client: falcon.testing.TestClient) -> None:

    assert client.simulate_get("/api/permits").status_code == 401
    assert client.simulate_get("/").headers["location"] == "/login"
    to_keycloak = client.simulate_get("/login")
    assert to_keycloak.status_code == 302
    assert "code_challenge_method=S256" in to_keycloak.headers["location"]

    back = urlsplit(browserless_login(to_keycloak.headers["location"], "clerk", PASSWORD))
    signed_in = client.simulate_get("/callback", query_string=back.query)
    assert signed_in.status_code == 302, signed_in.text
    replay = client.simulate_get("/callback", query_string=back.query)
    assert replay.status_code == 400  # the state was used up
    session = signed_in.cookies["session"].value
    token = client.simulate_get("/", cookies={"session": session}).json["access_token"]

    bearer = {"Authorization": f"Bearer {token}"}
    permits = client.simulate_get("/api/permits", headers=bearer)
    assert permits.status_code == 200, permits.text
    assert permits.json["for"] == "clerk"
    # The approver role is there, but a password sign-in is acr 1: step up first (RFC 9470).
    approve = client.simulate_post("/api/permits/approve", headers=bearer)
    assert approve.status_code == 401
    assert 'error="insufficient_user_authentication"' in approve.headers["www-authenticate"]
    assert 'acr_values="2"' in approve.headers["www-authenticate"]
    assert approve.headers["content-type"] == "application/problem+json"
