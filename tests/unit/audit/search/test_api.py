"""The audit search API through the real app: roles, org scope, errors, paging, export, saved."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from audit.search.sqlite import ensure_schema
from audit.search.testing import sample_events
from audit.sensitive.masking import MASK
from audit.stores.sqlite import SqliteAuditStore
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier

#: Paths that climb out of /gov/finance or look like it as a string: never in its subtree.
TRICKS = ("/gov/finance/../health", "/gov/finance/./x", "/gov/finance//x", "/gov/financex")
_SAMPLE = list(sample_events(240))
EVENTS = _SAMPLE + [
    dataclasses.replace(e, id=e.id + "t", org_path=p) for e, p in zip(_SAMPLE, TRICKS, strict=False)
]
#: The live directory the scope authority reads (bindings made by ``auth``; reset per test).
DIRECTORY = InMemoryOrgDirectory()


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


@pytest.fixture
def client(tmp_path: Path, issuer: LocalIssuer) -> Iterator[falcon.testing.TestClient]:
    path = tmp_path / "audit.sqlite3"
    store = SqliteAuditStore(path)
    ensure_schema(path)
    store.write_batch(EVENTS)
    DIRECTORY.people.clear()
    settings = Settings.load(
        {"ANBAO_KEYCLOAK_REQUIRED": "false", "ANBAO_AUDIT_SQLITE_PATH": str(path)}
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    yield falcon.testing.TestClient(
        create_app(settings, Parts(verifier=verifier, audit_store=store, org_directory=DIRECTORY))
    )
    store.close()


def auth(
    issuer: LocalIssuer,
    *roles: str,
    org: str | None = "/",
    sub: str = "s-1",
    claim: str | None = None,
) -> dict[str, str]:
    """A token of ``sub`` bound to ``org`` in the live directory (``/``: platform-wide).

    ``claim`` is the token's ``org_path`` (default: ``org``); it decides nothing.
    """
    DIRECTORY.bind(sub, org or "", *roles)
    org_path = org if claim is None else claim
    token = issuer.token(
        time.time(), sub=sub, realm_access={"roles": list(roles)}, org_path=org_path
    )
    return {"Authorization": f"Bearer {token}"}


def test_only_analysts_and_auditors_may_search(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    assert client.simulate_get("/audit/events").status_code == 401
    denied = client.simulate_get("/audit/events", headers=auth(issuer, "admin"))
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    for role in ("auditor", "security-analyst"):
        assert client.simulate_get("/audit/events", headers=auth(issuer, role)).status_code == 200


def test_a_caller_bound_nowhere_is_refused(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    result = client.simulate_get("/audit/events", headers=auth(issuer, "auditor", org=None))
    assert result.status_code == 403
    assert result.json["type"] == "urn:anbao:problem:audit_search_forbidden"


def test_org_auditor_sees_only_its_subtree(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    headers = auth(issuer, "auditor", org="/gov/finance")
    result = client.simulate_get("/audit/events", params={"size": "1000"}, headers=headers)
    orgs = {e.get("organization", {}).get("path") for e in result.json["events"]}
    assert orgs == {"/gov/finance", "/gov/finance/tax"}
    expected = sum(e.org_path in orgs for e in EVENTS)
    assert result.json["total"] == {"value": expected, "relation": "eq"}
    # A query naming another subtree cannot widen the scope.
    other = client.simulate_get(
        "/audit/events", params={"q": "organization.path:/gov/health"}, headers=headers
    )
    assert other.json["events"] == []


def test_the_binding_decides_not_the_token_claim(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    """Issue 16 §2.1: a claim of ``/`` with a binding to /gov/finance sees finance only."""
    headers = auth(issuer, "auditor", org="/gov/finance", claim="/")
    events = client.simulate_get("/audit/events", params={"size": "1000"}, headers=headers)
    orgs = {e.get("organization", {}).get("path") for e in events.json["events"]}
    assert orgs == {"/gov/finance", "/gov/finance/tax"}
    claim_only = auth(issuer, "auditor", org=None, claim="/gov/finance", sub="s-2")
    assert client.simulate_get("/audit/events", headers=claim_only).status_code == 403
    exported = client.simulate_get(
        "/audit/export", params={"format": "ndjson"}, headers=headers
    ).text.splitlines()
    paths = {json.loads(line)["organization"]["path"] for line in exported if line}
    assert paths == {"/gov/finance", "/gov/finance/tax"}


def test_parse_errors_are_problems_with_the_position(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    result = client.simulate_get(
        "/audit/events", params={"q": "user.name:alice AND (x"}, headers=auth(issuer, "auditor")
    )
    assert result.status_code == 400
    body = result.json
    assert body["type"] == "urn:anbao:problem:audit_query_invalid"
    assert body["position"] == 22
    assert "Expected ')'" in body["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "user.name"},
        {"size": "0"},
        {"size": "5000"},
        {"search_after": "not-a-cursor"},
        {"from": "yesterday"},
        {"from": "2026-11-02", "to": "2026-11-01"},
    ],
)
def test_bad_parameters_are_400(
    params: dict[str, str], client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    result = client.simulate_get("/audit/events", params=params, headers=auth(issuer, "auditor"))
    assert result.status_code == 400, result.text
    assert result.headers["content-type"] == "application/problem+json"


def test_search_after_pages_cover_everything_once(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    headers = auth(issuer, "security-analyst")
    seen: list[str] = []
    params = {"q": "NOT user.name:bob", "size": "25", "sort": "event.action:asc,@timestamp:desc"}
    while True:
        page = client.simulate_get("/audit/events", params=params, headers=headers).json
        seen += [e["event"]["id"] for e in page["events"]]
        if page["search_after"] is None:
            break
        params["search_after"] = page["search_after"]
    expected = {e.id for e in EVENTS if e.user.name != "bob"}
    assert len(seen) == len(expected)
    assert set(seen) == expected


def test_results_mask_sensitive_fields(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    result = client.simulate_get(
        "/audit/events", params={"size": "1000"}, headers=auth(issuer, "auditor")
    )
    phones = {e["personal"]["phone"] for e in result.json["events"] if "personal" in e}
    assert phones == {MASK}
    assert "13800138000" not in result.text


def test_aggregations(client: falcon.testing.TestClient, issuer: LocalIssuer) -> None:
    result = client.simulate_get(
        "/audit/aggregations",
        params={
            "from": "2026-11-01T00:00:00Z",
            "to": "2026-11-01T12:00:00Z",
            "interval": "1h",
            "top": "3",
        },
        headers=auth(issuer, "auditor"),
    )
    assert result.status_code == 200, result.text
    body = result.json
    assert body["interval"] == "3600s"
    assert len(body["histogram"]) == 12  # empty hours are filled with zero
    assert sum(b["count"] for b in body["histogram"]) == len(EVENTS)
    assert set(body["top"]) == {"user.name", "source.ip", "event.action", "event.outcome"}
    assert len(body["top"]["user.name"]) == 3
    bad = client.simulate_get(
        "/audit/aggregations", params={"interval": "1x"}, headers=auth(issuer, "auditor")
    )
    assert bad.status_code == 400


def test_export_ndjson_and_csv(client: falcon.testing.TestClient, issuer: LocalIssuer) -> None:
    headers = auth(issuer, "auditor")
    nd = client.simulate_get(
        "/audit/export", params={"format": "ndjson", "q": "user.name:alice"}, headers=headers
    )
    assert nd.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in nd.text.splitlines()]
    assert {d["user"]["name"] for d in lines} == {"alice"}
    assert len(lines) == sum(e.user.name == "alice" for e in EVENTS)
    exported = client.simulate_get("/audit/export", params={"format": "csv"}, headers=headers)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(EVENTS)
    assert {r["personal.phone"] for r in rows} <= {"", MASK}
    assert (
        client.simulate_get("/audit/export", params={"format": "xml"}, headers=headers).status_code
        == 400
    )
    assert (
        client.simulate_get("/audit/export", params={"q": "("}, headers=headers).status_code == 400
    )


def test_saved_searches_belong_to_their_owner(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    mine, theirs = auth(issuer, "auditor", sub="me"), auth(issuer, "auditor", sub="them")
    created = client.simulate_post(
        "/audit/saved-searches",
        json={"name": "failed logins", "q": "event.action:login AND event.outcome:failure"},
        headers=mine,
    )
    assert created.status_code == 201, created.text
    sid = created.json["id"]
    assert created.headers["location"] == f"/audit/saved-searches/{sid}"
    assert [
        s["id"]
        for s in client.simulate_get("/audit/saved-searches", headers=mine).json["saved_searches"]
    ] == [sid]
    assert client.simulate_get("/audit/saved-searches", headers=theirs).json["saved_searches"] == []
    assert client.simulate_get(f"/audit/saved-searches/{sid}", headers=theirs).status_code == 404
    assert client.simulate_delete(f"/audit/saved-searches/{sid}", headers=theirs).status_code == 404
    updated = client.simulate_put(
        f"/audit/saved-searches/{sid}", json={"name": "logins", "q": "login"}, headers=mine
    )
    assert updated.json["q"] == "login"
    assert updated.json["created"] == created.json["created"]
    invalid = client.simulate_post(
        "/audit/saved-searches", json={"name": "x", "q": "a AND"}, headers=mine
    )
    assert invalid.status_code == 400
    assert invalid.json["position"] == 5
    assert client.simulate_delete(f"/audit/saved-searches/{sid}", headers=mine).status_code == 204
    assert client.simulate_get(f"/audit/saved-searches/{sid}", headers=mine).status_code == 404


def test_routes_are_in_the_openapi_document(client: falcon.testing.TestClient) -> None:
    paths = client.simulate_get("/openapi.json").json["paths"]
    for path in ("/audit/events", "/audit/aggregations", "/audit/export", "/audit/saved-searches"):
        assert "get" in paths[path]
    assert {"get", "put", "delete"} <= paths["/audit/saved-searches/{search_id}"].keys()
    names = {p["name"] for p in paths["/audit/events"]["get"]["parameters"]}
    assert names == {"q", "from", "to", "sort", "size", "search_after"}
