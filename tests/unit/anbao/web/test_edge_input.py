"""Hostile input at the edge, on every route the app serves: a client's mistake is a 4xx
problem, never a 5xx. The routes come from the app's own OpenAPI document, so a new route is
covered the day it is added."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from audit.search.model import InvalidSearch
from audit.search.service import decode_cursor, encode_cursor
from iam.apps.testing import MemoryAppDirectory
from iam.orgs.delegation import PLATFORM_ROLES
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from tests.unit.anbao.conftest import FakeAuditStore, problem

_ISSUER = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
_PARAM = re.compile(r"{\w+}")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[falcon.testing.TestClient]:
    state = tmp_path_factory.mktemp("edge")
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_SQLITE_PATH": str(state / "audit.sqlite3"),
        }
    )
    verifier = TokenVerifier(
        issuer=_ISSUER.issuer, audience="anbao-api", jwks=_ISSUER, clock=time.time
    )
    directory = InMemoryOrgDirectory()
    directory.bind("admin-1", "/", *PLATFORM_ROLES)  # reaches the whole tree (issue 16 §2.1)
    parts = Parts(
        verifier=verifier,
        audit_store=FakeAuditStore(),
        app_directory=MemoryAppDirectory(),
        org_directory=directory,
        introspection=_ISSUER.introspection(),  # high-risk routes ask it first (§2.3)
    )
    return falcon.testing.TestClient(create_app(settings, parts))


def _auth() -> dict[str, str]:
    token = _ISSUER.token(
        time.time(), sub="admin-1", acr="2", realm_access={"roles": sorted(PLATFORM_ROLES)}
    )
    return {"Authorization": f"Bearer {token}"}


def _operations(client: falcon.testing.TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    paths = client.simulate_get("/openapi.json").json["paths"]
    return [(m.upper(), p, op) for p, item in paths.items() for m, op in item.items()]


def _with_body(client: falcon.testing.TestClient) -> list[tuple[str, str]]:
    """Every operation that takes a JSON body (the document must say so: item 6 of issue 16)."""
    return [
        (m, _PARAM.sub("abc-123", p))
        for m, p, op in _operations(client)
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]


HOSTILE_BODIES = [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 10_000 + "1" + "}" * 10_000,
    '{"name": "\\ud800", "client_id": "abc-def", "type": "public", "text": "\\udfff"}',
    '{"name": NaN}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=["array", "object", "surrogate", "nan"])
def test_hostile_json_bodies_are_400_on_every_route(
    client: falcon.testing.TestClient, body: str
) -> None:
    routes = _with_body(client)
    assert len(routes) >= 15
    for method, path in routes:
        result = client.simulate_request(
            method, path, body=body, content_type="application/json", headers=_auth()
        )
        assert 400 <= result.status_code < 500, (method, path, result.status_code, result.text)
        problem(result)


def test_every_json_body_is_checked_against_the_schema_the_document_publishes(
    client: falcon.testing.TestClient,
) -> None:
    """One validator, the published schemas: a body no schema admits (a JSON array) is a 400
    naming ``body``, typed with the operation's own ``x-problem-code`` (issue 18 §4)."""
    checked = 0
    for method, template, op in _operations(client):
        body = op.get("requestBody", {})
        if "application/json" not in body.get("content", {}):
            continue
        path = _PARAM.sub("abc-123", template)
        result = client.simulate_request(method, path, json=[1], headers=_auth())
        if result.status_code == 404:  # the resource looked up "abc-123" before the body
            continue
        code = body.get("x-problem-code", "invalid_body")
        assert result.status_code == 400, (method, path, result.text)
        found = problem(result)
        assert found["type"] == f"urn:anbao:problem:{code}", (method, path, found)
        assert found["field"] == "body", (method, path, found)
        assert found["errors"] == [{"field": "body", "reason": "expected object"}]
        checked += 1
    assert checked >= 15


def test_a_body_breaking_its_schema_names_every_field(client: falcon.testing.TestClient) -> None:
    refused = client.simulate_post(
        "/iam/apps", json={"client_id": "ok-app", "type": "both", "scopes": [7]}, headers=_auth()
    )
    assert refused.status_code == 400, refused.text
    found = problem(refused)
    assert found["type"] == "urn:anbao:problem:invalid_request"
    assert {e["field"] for e in found["errors"]} == {"type", "scopes.0"}
    assert "both" not in refused.text  # the client's value is never echoed


def test_an_empty_body_reads_as_its_operation_says(client: falcon.testing.TestClient) -> None:
    required = client.simulate_post("/iam/apps", headers=_auth())
    assert required.status_code == 400, required.text
    assert problem(required)["field"] == "body"
    assert problem(required)["errors"] == [{"field": "body", "reason": "required"}]


def test_authorization_comes_before_the_body_check(client: falcon.testing.TestClient) -> None:
    """The body is checked when the resource reads it, after its guard: a caller without the
    role learns nothing from a bad body."""
    token = _ISSUER.token(time.time(), sub="admin-1", realm_access={"roles": ["viewer"]})
    for path in ("/iam/apps", "/siem/alerts/abc-123/notes", "/compliance/waivers"):
        result = client.simulate_post(path, json=[1], headers={"Authorization": f"Bearer {token}"})
        assert result.status_code == 403, (path, result.text)


HOSTILE_IDS = ["..", ".", "a%01b", "a%7Fb", "x" * 300, "a%00", "%E5%AE%89"]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_malformed_path_parameters_are_404_on_every_route(
    client: falcon.testing.TestClient, value: str
) -> None:
    checked = 0
    for method, template, _ in _operations(client):
        for name in _PARAM.findall(template):
            path = template.replace(name, value, 1)
            path = _PARAM.sub("abc-123", path)
            result = client.simulate_request(method, path, headers=_auth(), json={})
            assert result.status_code == 404, (method, path, result.status_code, result.text)
            problem(result)
            checked += 1
    assert checked > 20


def test_missing_person_is_404_not_500(client: falcon.testing.TestClient) -> None:
    for path in ("/iam/people/..", "/iam/orgs/..", "/iam/people/abc/memberships/.."):
        result = client.simulate_get(path, headers=_auth())
        assert result.status_code in {404, 405}, (path, result.status_code)


def test_nested_cursor_is_invalid_search() -> None:
    with pytest.raises(InvalidSearch):
        decode_cursor(encode_cursor(()) or "", 1)
    deep = "[" * 50_000 + "]" * 50_000
    import base64

    token = base64.urlsafe_b64encode(deep.encode()).decode()
    with pytest.raises(InvalidSearch):
        decode_cursor(token, 1)
    surrogate = base64.urlsafe_b64encode(b'["\\ud800"]').decode()
    with pytest.raises(InvalidSearch):
        decode_cursor(surrogate, 1)


def test_deeply_nested_token_header_is_401_invalid_token(
    client: falcon.testing.TestClient,
) -> None:
    import base64

    head = base64.urlsafe_b64encode(
        b'{"kid":"a","alg":"RS256","x":' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    )
    token = f"{head.rstrip(b'=').decode()}.e30.c2ln"
    result = client.simulate_get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert result.status_code == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]
    problem(result)
