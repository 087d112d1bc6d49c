"""The embedded store keeps documents verbatim, idempotently, with full-text search rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.ports import RawDocument
from audit.sqlite import SqliteAuditStore
from tests.unit.audit.conftest import T0, make_event


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteAuditStore]:
    s = SqliteAuditStore(tmp_path / "a.db")
    yield s
    s.close()


def test_writes_are_idempotent_by_event_id(store: SqliteAuditStore) -> None:
    events = [make_event(i, sequence=i) for i in range(5)]
    assert store.write_batch(events[:3]).created == 3
    again = store.write_batch(events)
    assert (again.created, again.existing) == (2, 3)
    assert store.count() == 5


def test_get_returns_the_stored_document_verbatim(store: SqliteAuditStore) -> None:
    event = make_event(1, sequence=0)
    store.write_batch([event])
    assert store.get(event.id) == json.loads(event.canonical_bytes())
    assert store.get("missing") is None


def test_scan_orders_by_sequence_within_a_stream(store: SqliteAuditStore) -> None:
    store.write_batch([make_event(i, sequence=9 - i) for i in range(10)])
    store.write_batch([make_event(100, sequence=0, stream="iam")])
    seqs = [d["anbao"]["sequence"] for d in store.scan("main", 2, 7, batch_size=2)]
    assert seqs == [2, 3, 4, 5, 6]
    assert store.streams() == {"main": 10, "iam": 1}


def test_free_text_is_indexed_by_fts5(store: SqliteAuditStore) -> None:
    store.write_batch([make_event(1, sequence=0, reason="quarterly stamp for contract")])
    hits = store.connection.execute(
        "SELECT e.event_id FROM events_words w JOIN events e ON e.rowid = w.rowid "
        "WHERE events_words MATCH 'quarterly'"
    ).fetchall()
    assert hits == [("evt-00000001",)]


def test_delete_before_removes_old_events_and_their_text(store: SqliteAuditStore) -> None:
    old = make_event(1, sequence=0, timestamp=T0 - dt.timedelta(days=400))
    store.write_batch([old, make_event(2, sequence=1)])
    assert store.delete_before(T0 - dt.timedelta(days=180)) == 1
    assert store.count() == 1
    fts = store.connection.execute("SELECT count(*) FROM events_words").fetchone()[0]
    assert fts == 1


def test_malformed_documents_are_rejected_not_retried_forever(store: SqliteAuditStore) -> None:
    good = make_event(1, sequence=0)
    result = store.write_documents(
        [
            RawDocument(good.id, "2026-11-26T08:00:00.001000Z", good.canonical_bytes()),
            RawDocument("broken", "2026-11-26T08:00:00.002000Z", b"{not json"),
        ]
    )
    assert (result.created, result.existing, result.rejected) == (
        1,
        0,
        (("broken", "malformed_json"),),
    )
    assert store.streams() == {"main": 1}
