"""The search API wired by the app on a real Elasticsearch store (mappings added at start-up)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from audit.ports import SearchRequest
from audit.search.elasticsearch import ElasticsearchSearch
from audit.search.model import store_page
from audit.search.query.parse import parse
from audit.search.testing import sample_events
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from tests.integration.conftest import Server

EVENTS = list(sample_events(300, seed=3))


class _KeepOpen(ElasticsearchAuditStore):
    """Falcon's test client runs the lifespan per request; the app's shutdown closes the store."""

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def store(elasticsearch: Server) -> Iterator[ElasticsearchAuditStore]:
    es = _KeepOpen(
        EsConnection(
            elasticsearch.url,
            elasticsearch.env["ELASTICSEARCH_USERNAME"],
            elasticsearch.env["ELASTICSEARCH_PASSWORD"],
            timeout=30,
        ),
        prefix=f"anbao-search-api-{secrets.token_hex(4)}",
        retention_days=1,
        development=True,
    )
    try:
        yield es
    finally:
        es.delete_all()
        es.client.close()


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


@pytest.fixture(scope="module")
def client(
    store: ElasticsearchAuditStore, issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> falcon.testing.TestClient:
    tmp: Path = tmp_path_factory.mktemp("search-api")
    settings = Settings.load(
        {
            "ANBAO_ENVIRONMENT": "development",
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_AUDIT_RECORD_REQUESTS": "false",
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "keyring.json"),
        }
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    directory = InMemoryOrgDirectory()  # bindings on real Keycloak: tests/integration/anbao
    directory.bind("finance-auditor", "/gov/finance", "auditor")
    parts = Parts(verifier=verifier, audit_store=store, org_directory=directory)
    app = create_app(settings, parts)  # installs mappings
    store.write_batch(EVENTS)  # the first monthly index is created from the patched template
    store.refresh()
    return falcon.testing.TestClient(app)


def test_the_installed_template_carries_the_search_mappings(
    client: falcon.testing.TestClient, store: ElasticsearchAuditStore
) -> None:
    mapping = store.client.indices.get_mapping(index=store.pattern).body
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["@timestamp"]["type"] == "date_nanos"
    assert props["user"]["properties"]["name"]["fields"]["words"]["analyzer"] == "simple"


def test_search_export_and_aggregations_over_http(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    token = issuer.token(time.time(), sub="finance-auditor", realm_access={"roles": ["auditor"]})
    headers = {"Authorization": f"Bearer {token}"}
    scoped = [e for e in EVENTS if e.org_path in ("/gov/finance", "/gov/finance/tax")]
    page = client.simulate_get("/audit/events", params={"size": "1000"}, headers=headers)
    assert page.status_code == 200, page.text
    assert page.json["total"]["value"] == len(scoped)
    denied = client.simulate_get("/audit/events", params={"q": "alice denied"}, headers=headers)
    expected = {e.id for e in scoped if e.user.name == "alice" and "denied" in e.reason}
    assert {d["event"]["id"] for d in denied.json["events"]} == expected
    export = client.simulate_get("/audit/export", params={"format": "ndjson"}, headers=headers)
    assert sorted(json.loads(x)["event"]["id"] for x in export.text.splitlines()) == sorted(
        e.id for e in scoped
    )
    aggs = client.simulate_get("/audit/aggregations", params={"interval": "1h"}, headers=headers)
    assert sum(b["count"] for b in aggs.json["histogram"]) == len(scoped)


def test_store_port_search_pages_with_search_after(
    client: falcon.testing.TestClient, store: ElasticsearchAuditStore
) -> None:
    backend = ElasticsearchSearch(store.client, store.pattern, clock=lambda: EVENTS[0].timestamp)
    request = SearchRequest(query=parse("NOT user.name:bob"), size=40)
    seen: list[str] = []
    while True:
        page = store_page(backend, request)
        seen += [d["event"]["id"] for d in page.documents]
        if page.search_after is None:
            break
        request = SearchRequest(query=request.query, size=40, search_after=page.search_after)
    assert sorted(seen) == sorted(e.id for e in EVENTS if e.user.name != "bob")
