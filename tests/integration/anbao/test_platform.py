"""The platform end to end on the real servers: a Keycloak token reaches a protected endpoint."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from keycloak import KeycloakAdmin, KeycloakOpenID

from tests.integration.anbao.serving import free_port, serve
from tests.integration.conftest import Server

REALM = "anbao"
AUDIENCE = "anbao-api"


@pytest.fixture(scope="module")
def admin(keycloak: Server) -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=keycloak.url,
        username=keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
        password=keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        realm_name=REALM,
        user_realm_name="master",
    )


@pytest.fixture(scope="module")
def service_client(admin: KeycloakAdmin) -> Iterator[tuple[str, str]]:
    """A confidential client with the service-account flow and Anbao's audience in its tokens."""
    client_id = f"e2e-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32)
    internal_id = admin.create_client(
        {
            "clientId": client_id,
            "protocol": "openid-connect",
            "publicClient": False,
            "secret": secret,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "protocolMappers": [
                {
                    "name": "anbao-audience",
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-audience-mapper",
                    "config": {"included.custom.audience": AUDIENCE, "access.token.claim": "true"},
                }
            ],
        }
    )
    yield client_id, secret
    admin.delete_client(internal_id)


@pytest.fixture(scope="module")
def service(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``anbao serve`` as a real process on a free loopback port."""
    with serve(tmp_path_factory.mktemp("serve"), {"ANBAO_KEYCLOAK_URL": keycloak.url}) as (
        base,
        _log,
    ):
        yield base


def test_readyz_reports_keycloak_ready(service: str) -> None:
    report = httpx.get(service + "/readyz").json()
    assert report["status"] == "ready"
    assert report["checks"]["keycloak"]["status"] == "up"
    assert report["checks"]["audit_store:sqlite"]["status"] == "up"


def test_keycloak_token_reaches_protected_endpoint(
    service: str, keycloak: Server, service_client: tuple[str, str]
) -> None:
    client_id, secret = service_client
    assert httpx.get(service + "/whoami").status_code == 401
    oidc = KeycloakOpenID(
        server_url=keycloak.url, realm_name=REALM, client_id=client_id, client_secret_key=secret
    )
    token = oidc.token(grant_type="client_credentials")["access_token"]
    response = httpx.get(service + "/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == client_id
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (
        httpx.get(service + "/whoami", headers={"Authorization": f"Bearer {tampered}"}).status_code
        == 401
    )


def test_elasticsearch_audit_store_is_ready(elasticsearch: Server, keycloak: Server) -> None:
    from anbao.audit_wiring import build_audit_store
    from anbao.settings import Settings

    settings = Settings.load(
        {
            "ANBAO_AUDIT_STORE": "elasticsearch",
            "ANBAO_ELASTICSEARCH_URL": elasticsearch.url,
            "ANBAO_ELASTICSEARCH_PASSWORD": elasticsearch.env["ELASTICSEARCH_PASSWORD"],
        }
    )
    store = build_audit_store(settings)
    try:
        store.ping()
        assert store.kind == "elasticsearch"
    finally:
        store.close()


def _serve_check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anbao", "serve", "--check"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unreachable_keycloak_is_one_line_and_nonzero(tmp_path: Path) -> None:
    result = _serve_check(
        ANBAO_KEYCLOAK_URL=f"http://127.0.0.1:{free_port()}",
        ANBAO_AUDIT_SQLITE_PATH=str(tmp_path / "a.db"),
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "keycloak.url" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_secret_and_malformed_toml_are_one_line(tmp_path: Path) -> None:
    missing = _serve_check(ANBAO_AUDIT_STORE="elasticsearch", ANBAO_ELASTICSEARCH_PASSWORD="")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "anbao: setting elasticsearch.password (ANBAO_ELASTICSEARCH_PASSWORD): required when audit.store is elasticsearch"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    malformed = _serve_check(ANBAO_CONFIG=str(bad))
    assert malformed.returncode == 2
    assert malformed.stderr.count("\n") == 1
    assert "malformed TOML" in malformed.stderr


def test_wrong_es_password_fails_start_up_cleanly(
    elasticsearch: Server, keycloak: Server, tmp_path: Path
) -> None:
    result = _serve_check(
        ANBAO_KEYCLOAK_URL=keycloak.url,
        ANBAO_AUDIT_STORE="elasticsearch",
        ANBAO_ELASTICSEARCH_URL=elasticsearch.url,
        ANBAO_ELASTICSEARCH_PASSWORD="wrong-" + secrets.token_hex(4),
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "anbao: setting audit.store (ANBAO_AUDIT_STORE): Elasticsearch refused the configured credentials."
    )


def test_bad_file_found_while_building_the_app_is_one_line(
    keycloak: Server, tmp_path: Path
) -> None:
    bad = tmp_path / "roots.pem"
    bad.write_text("not a certificate")
    result = _serve_check(
        ANBAO_KEYCLOAK_URL=keycloak.url,
        ANBAO_AUDIT_SQLITE_PATH=str(tmp_path / "a.db"),
        ANBAO_SEAL_VERIFY_TRUST_ROOTS_FILE=str(bad),
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert "seal_verify.trust_roots_file" in result.stderr
    assert "Traceback" not in result.stderr
