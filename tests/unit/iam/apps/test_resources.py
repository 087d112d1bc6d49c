"""``/iam/apps`` through the real app factory: roles, problem+json naming fields, no-store."""

from __future__ import annotations

import time
from typing import Any

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from iam.apps.testing import MemoryAppDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from tests.unit.anbao.conftest import FakeAuditStore


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


@pytest.fixture
def client(issuer: LocalIssuer) -> falcon.testing.TestClient:
    settings = Settings.load(
        {"ANBAO_KEYCLOAK_REQUIRED": "false", "ANBAO_SERVER_ACCESS_LOG": "false"}
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    parts = Parts(
        verifier=verifier,
        audit_store=FakeAuditStore(),
        app_directory=MemoryAppDirectory(),
        introspection=issuer.introspection(),
    )
    return falcon.testing.TestClient(create_app(settings, parts))


def auth(issuer: LocalIssuer, subject: str, *roles: str) -> dict[str, str]:
    token = issuer.token(time.time(), sub=subject, realm_access={"roles": list(roles)})
    return {"Authorization": f"Bearer {token}"}


REGISTRATION: dict[str, Any] = {
    "client_id": "permits-web",
    "type": "confidential",
    "redirect_uris": ["https://permits.example.gov.cn/callback"],
    "roles": ["clerk"],
}


def test_register_describe_rotate_disable(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    dev = auth(issuer, "alice", "app-developer")
    created = client.simulate_post("/iam/apps", json=REGISTRATION, headers=dev)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/iam/apps/permits-web"
    assert created.headers["cache-control"] == "no-store"
    body = created.json
    assert body["client_secret"]
    assert body["discovery_url"] == (
        "http://127.0.0.1:8080/realms/anbao/.well-known/openid-configuration"
    )
    assert body["app"]["roles"] == ["clerk"]

    shown = client.simulate_get("/iam/apps/permits-web", headers=dev)
    assert shown.status_code == 200
    assert body["client_secret"] not in shown.text

    rotated = client.simulate_post("/iam/apps/permits-web/secret", headers=dev)
    assert rotated.status_code == 200
    assert rotated.json["client_secret"] != body["client_secret"]

    disabled = client.simulate_patch("/iam/apps/permits-web", json={"enabled": False}, headers=dev)
    assert disabled.json["enabled"] is False
    listed = client.simulate_get("/iam/apps", headers=dev).json["apps"]
    assert [a["client_id"] for a in listed] == ["permits-web"]


def test_bad_request_is_problem_json_naming_the_field(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    bad = {**REGISTRATION, "redirect_uris": ["https://ok.cn/cb", "https://*.example.cn/cb"]}
    result = client.simulate_post(
        "/iam/apps", json=bad, headers=auth(issuer, "alice", "app-developer")
    )
    assert result.status_code == 400
    assert result.headers["content-type"] == "application/problem+json"
    problem = result.json
    assert problem["type"] == "urn:anbao:problem:invalid_request"
    assert problem["field"] == "redirect_uris[1]"
    assert problem["errors"][0]["field"] == "redirect_uris[1]"
    assert "wildcard" in problem["detail"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/iam/apps", 403),
        ("POST", "/iam/apps", 403),
        ("GET", "/iam/apps/permits-web", 403),
        ("PATCH", "/iam/apps/permits-web", 403),
        ("POST", "/iam/apps/permits-web/secret", 403),
    ],
)
def test_other_roles_are_refused(
    client: falcon.testing.TestClient, issuer: LocalIssuer, method: str, path: str, status: int
) -> None:
    result = client.simulate_request(
        method, path, json={"enabled": False}, headers=auth(issuer, "eve", "auditor")
    )
    assert result.status_code == status
    assert client.simulate_request(method, path).status_code == 401


def test_not_found_and_conflict(client: falcon.testing.TestClient, issuer: LocalIssuer) -> None:
    alice = auth(issuer, "alice", "app-developer")
    bob = auth(issuer, "bob", "app-developer")
    assert client.simulate_post("/iam/apps", json=REGISTRATION, headers=alice).status_code == 201
    again = client.simulate_post("/iam/apps", json=REGISTRATION, headers=bob)
    assert again.status_code == 409
    assert again.json["type"] == "urn:anbao:problem:conflict"
    hidden = client.simulate_get("/iam/apps/permits-web", headers=bob)
    assert hidden.status_code == 404
    assert hidden.json["type"] == "urn:anbao:problem:not_found"
    admin = auth(issuer, "root", "platform-admin")
    assert client.simulate_get("/iam/apps/permits-web", headers=admin).status_code == 200


def test_malformed_json_is_a_problem(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    result = client.simulate_post(
        "/iam/apps",
        body=b"{nope",
        content_type="application/json",
        headers=auth(issuer, "alice", "app-developer"),
    )
    assert result.status_code == 400
    assert result.headers["content-type"] == "application/problem+json"
    listed = client.simulate_post(
        "/iam/apps", json=["x"], headers=auth(issuer, "alice", "app-developer")
    )
    assert listed.json["field"] == "body"


def test_the_owner_adds_a_role_others_may_not(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    dev = auth(issuer, "alice", "app-developer")
    assert client.simulate_post("/iam/apps", json=REGISTRATION, headers=dev).status_code == 201
    added = client.simulate_post(
        "/iam/apps/permits-web/roles", json={"name": "approver"}, headers=dev
    )
    assert added.status_code == 201, added.text
    assert added.json["roles"] == ["approver", "clerk"]
    again = client.simulate_post(
        "/iam/apps/permits-web/roles", json={"name": "approver"}, headers=dev
    )
    assert again.json["roles"] == ["approver", "clerk"]  # idempotent
    bad = client.simulate_post(
        "/iam/apps/permits-web/roles", json={"name": "Bad Name"}, headers=dev
    )
    assert bad.status_code == 400
    other = auth(issuer, "bob", "app-developer")
    refused = client.simulate_post(
        "/iam/apps/permits-web/roles", json={"name": "viewer"}, headers=other
    )
    assert refused.status_code in {403, 404}
