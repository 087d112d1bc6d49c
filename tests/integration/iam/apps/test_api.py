"""``/iam/apps`` as wired by ``create_app``: real Keycloak tokens in, real Keycloak clients out."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import httpx
import pytest

from anbao.app import create_app
from anbao.settings import Settings
from tests.integration.conftest import Server
from tests.integration.iam.kc_realm import KcRealm, create_realm, delete_realm


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[KcRealm]:
    realm = create_realm(keycloak, "apps-api", roles=("app-developer", "auditor"))
    yield realm
    delete_realm(keycloak, realm)


@pytest.fixture(scope="module")
def client(
    keycloak: Server, realm: KcRealm, tmp_path_factory: pytest.TempPathFactory
) -> falcon.testing.TestClient:
    audit = Path(tmp_path_factory.mktemp("audit")) / "audit.sqlite3"
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_URL": keycloak.url,
            "ANBAO_KEYCLOAK_REALM": realm.name,
            "ANBAO_KEYCLOAK_AUDIENCE": realm.audience,
            "ANBAO_KEYCLOAK_ADMIN_USERNAME": keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
            "ANBAO_KEYCLOAK_ADMIN_PASSWORD": keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
            "ANBAO_KEYCLOAK_CLIENT_ID": realm.audience,
            "ANBAO_KEYCLOAK_CLIENT_SECRET": realm.api_secret,
            "ANBAO_AUDIT_SQLITE_PATH": str(audit),
            "ANBAO_SERVER_ACCESS_LOG": "false",
        }
    )
    return falcon.testing.TestClient(create_app(settings))


def test_developer_registers_an_app_through_the_api(
    realm: KcRealm, client: falcon.testing.TestClient
) -> None:
    developer = {"Authorization": f"Bearer {realm.token()}"}  # svc holds app-developer
    client_id = f"tax-{secrets.token_hex(3)}"
    created = client.simulate_post(
        "/iam/apps",
        json={"client_id": client_id, "type": "confidential", "service_account": True},
        headers=developer,
    )
    assert created.status_code == 201, created.text
    secret = created.json["client_secret"]
    token = httpx.post(
        f"{realm.issuer}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    assert client.simulate_get(f"/iam/apps/{client_id}", headers=developer).json["owner"]

    bad = client.simulate_post(
        "/iam/apps",
        json={"client_id": "x-app", "type": "public", "redirect_uris": ["http://evil.cn/cb"]},
        headers=developer,
    )
    assert bad.status_code == 400
    assert bad.json["field"] == "redirect_uris[0]"

    # Keycloak's own clients are not reachable through the API, even by id.
    assert client.simulate_get("/iam/apps/admin-cli", headers=developer).status_code == 404
    assert client.simulate_get("/iam/apps", headers={}).status_code == 401
