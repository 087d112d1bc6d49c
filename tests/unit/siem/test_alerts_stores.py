"""The alert store contract on the in-memory and SQLite stores (Elasticsearch: integration)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from siem.alerts_ports import AlertStore
from siem.alerts_sqlite import SqliteAlertStore
from siem.alerts_testing import MemoryAlertStore
from tests.unit.siem.alert_store_contract import AlertStoreContract


class TestMemoryStore(AlertStoreContract):
    @pytest.fixture
    def store(self) -> AlertStore:
        return MemoryAlertStore()


class TestSqliteStore(AlertStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[AlertStore]:
        s = SqliteAlertStore(tmp_path / "alerts.sqlite3")
        yield s
        s.close()
