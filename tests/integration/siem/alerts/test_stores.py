"""The alert store contract against the real Elasticsearch (and SQLite, for the same run)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.stores.es_client import EsConnection
from siem.alerts.elasticsearch import MAPPING, ElasticsearchAlertStore
from siem.alerts.ports import AlertStore
from siem.alerts.sqlite import SqliteAlertStore
from tests.integration.conftest import Server
from tests.unit.siem.alerts.store_contract import AlertStoreContract


def es_store(server: Server) -> ElasticsearchAlertStore:
    return ElasticsearchAlertStore(
        EsConnection(
            server.url, server.env["ELASTICSEARCH_USERNAME"], server.env["ELASTICSEARCH_PASSWORD"]
        ),
        index=f"test-siem-alerts-{uuid.uuid4().hex[:12]}",
    )


class TestElasticsearchStore(AlertStoreContract):
    @pytest.fixture
    def store(self, elasticsearch: Server) -> Iterator[AlertStore]:
        s = es_store(elasticsearch)
        yield s
        s.drop()
        s.close()

    def test_index_has_the_explicit_strict_mapping(self, store: AlertStore) -> None:
        assert isinstance(store, ElasticsearchAlertStore)
        store.ping()
        mapping = store.client.indices.get_mapping(index=store.index)[store.index]["mappings"]
        assert mapping["dynamic"] == "strict"
        assert set(mapping["properties"]) == set(MAPPING["properties"])


class TestSqliteStoreIntegration(AlertStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[AlertStore]:
        s = SqliteAlertStore(tmp_path / "alerts.sqlite3")
        yield s
        s.close()


def test_settings_select_the_elasticsearch_store(elasticsearch: Server) -> None:
    from anbao.settings import Settings
    from anbao.wiring.siem_alerts import build_alert_store

    index = f"test-siem-alerts-{uuid.uuid4().hex[:12]}"
    settings = Settings.load(
        {
            "ANBAO_SIEM_ALERT_STORE": "elasticsearch",
            "ANBAO_SIEM_ALERT_INDEX": index,
            "ANBAO_ELASTICSEARCH_URL": elasticsearch.url,
            "ANBAO_ELASTICSEARCH_USERNAME": elasticsearch.env["ELASTICSEARCH_USERNAME"],
            "ANBAO_ELASTICSEARCH_PASSWORD": elasticsearch.env["ELASTICSEARCH_PASSWORD"],
        }
    )
    store = build_alert_store(settings)
    assert isinstance(store, ElasticsearchAlertStore)
    try:
        store.ping()
        assert store.client.indices.exists(index=index)
    finally:
        store.drop()
        store.close()
