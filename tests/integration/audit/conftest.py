"""Audit stores against the real servers: each test gets its own index prefix, removed after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.ports import AuditStore
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from audit.stores.sqlite import SqliteAuditStore
from tests.integration.conftest import Server


def es_store_for(server: Server, **over: object) -> ElasticsearchAuditStore:
    """A store on ``server`` with a fresh prefix that overlaps no other test's templates."""
    env = server.env
    options: dict[str, object] = {"prefix": f"itest-{uuid.uuid4().hex[:12]}", "development": True}
    options.update(over)
    connection = EsConnection(
        server.url, env["ELASTICSEARCH_USERNAME"], env["ELASTICSEARCH_PASSWORD"], timeout=10.0
    )
    return ElasticsearchAuditStore(connection, **options)  # type: ignore[arg-type]


@pytest.fixture
def es_store(elasticsearch: Server) -> Iterator[ElasticsearchAuditStore]:
    store = es_store_for(elasticsearch)
    yield store
    store.delete_all()
    store.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def audit_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditStore]:
    """The same suite runs against the embedded store and Elasticsearch (issue 5 part 4)."""
    if request.param == "sqlite":
        store: AuditStore = SqliteAuditStore(tmp_path / "audit.sqlite3")
        yield store
        store.close()
    else:
        yield request.getfixturevalue("es_store")
