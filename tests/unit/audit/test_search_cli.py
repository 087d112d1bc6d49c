"""``anbao audit search|export`` against the in-process app (httpx bridged to Falcon's client)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import httpx
import pytest
from click.testing import CliRunner

from anbao.app import Parts, create_app
from anbao.cli import audit_search, main
from anbao.settings import Settings
from audit.search_sqlite import ensure_schema
from audit.search_testing import sample_events
from audit.sqlite import SqliteAuditStore
from iam.orgs_testing import InMemoryOrgDirectory
from iam.testing import LocalIssuer
from iam.tokens import TokenVerifier

EVENTS = list(sample_events(150))


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    directory = InMemoryOrgDirectory()
    directory.bind("analyst", "/", "auditor")  # platform-wide in the live directory
    path = tmp_path / "audit.sqlite3"
    store = SqliteAuditStore(path)
    ensure_schema(path)
    store.write_batch(EVENTS)
    settings = Settings.load(
        {"ANBAO_KEYCLOAK_REQUIRED": "false", "ANBAO_AUDIT_SQLITE_PATH": str(path)}
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    app = falcon.testing.TestClient(
        create_app(settings, Parts(verifier=verifier, audit_store=store, org_directory=directory))
    )

    def handler(request: httpx.Request) -> httpx.Response:
        result = app.simulate_request(
            request.method,
            request.url.path,
            query_string=request.url.query.decode(),
            headers=dict(request.headers),
        )
        return httpx.Response(
            result.status_code, headers=dict(result.headers), content=result.content
        )

    def bridged(url: str, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            transport=httpx.MockTransport(handler),
        )

    monkeypatch.setattr(audit_search, "client", bridged)
    yield issuer.token(time.time(), sub="analyst", realm_access={"roles": ["auditor"]})
    store.close()


def test_search_prints_matching_events(token: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "audit",
            "search",
            "user.name:alice",
            "--token",
            token,
            "--format",
            "ndjson",
            "--limit",
            "1000",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == sum(e.user.name == "alice" for e in EVENTS)
    assert {e["user"]["name"] for e in lines} == {"alice"}


def test_search_reports_the_error_position(token: str) -> None:
    result = CliRunner().invoke(main, ["audit", "search", "user.name:(alice", "--token", token])
    assert result.exit_code == 2
    assert "at position 16" in result.stderr


def test_export_writes_the_file_with_a_progress_bar(token: str, tmp_path: Path) -> None:
    out = tmp_path / "events.csv"
    result = CliRunner().invoke(
        main,
        [
            "audit",
            "export",
            "NOT user.name:bob",
            "--token",
            token,
            "--format",
            "csv",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected = sum(e.user.name != "bob" for e in EVENTS)
    assert len(rows) == expected
    assert f"{expected} event(s) exported" in result.stderr
    assert "exporting" in result.stderr
