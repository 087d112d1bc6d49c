"""The alert store contract on the in-memory and SQLite stores (Elasticsearch: integration)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from siem.alerts.ports import AlertStore
from siem.alerts.sqlite import SqliteAlertStore
from siem.alerts.testing import MemoryAlertStore
from tests.unit.siem.alerts.store_contract import AlertStoreContract


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


def test_queued_sink_stores_off_thread_and_drops_when_full() -> None:
    import datetime as dt
    import threading

    from siem.alerts.model import AlertFilter
    from siem.alerts.service import AlertService, QueuedSink
    from tests.unit.siem.support import Clock, detection

    gate = threading.Event()

    class SlowStore(MemoryAlertStore):
        def create(self, alert):  # type: ignore[no-untyped-def]
            gate.wait(10)
            return super().create(alert)

    store = SlowStore()
    sink = QueuedSink(
        AlertService(store, clock=Clock(), window=dt.timedelta(minutes=1)), max_batches=1
    )
    sink.emit([detection(user="a")])  # taken by the worker, which blocks on the gate
    for _ in range(100):
        if sink._queue.empty():
            break
        threading.Event().wait(0.01)
    sink.emit([detection(user="b")])  # fills the queue
    sink.emit([detection(user="c"), detection(user="d")])  # dropped
    assert sink.dropped == 2
    gate.set()
    sink.drain()
    found = store.search(AlertFilter()).alerts
    assert sorted(a.entity_text for a in found) == ["user.name=a", "user.name=b"]
