"""The embedded store keeps documents verbatim, idempotently, with full-text search rows."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.ports import RawDocument
from audit.recording import request_record
from audit.recording.request_record import RequestRecord
from audit.search.sqlite import SCHEMA_VERSION
from audit.stores.sqlite import SqliteAuditStore
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


def test_a_document_that_is_no_json_object_is_rejected(store: SqliteAuditStore) -> None:
    docs = {
        "array": b"[1, 2]",
        "nan": b'{"anbao": {"stream": "main"}, "x": NaN}',
        "latin1": '{"a": "\u00e9"}'.encode("latin-1"),
    }
    result = store.write_documents(
        [RawDocument(k, "2026-11-26T08:00:00.000000Z", v) for k, v in docs.items()]
    )
    assert result.created == 0
    assert sorted(result.rejected) == [(k, "malformed_json") for k in sorted(docs)]
    assert store.count() == 0


def stored_columns(store: SqliteAuditStore) -> list[tuple[object, ...]]:
    return store.connection.execute(
        "SELECT event_id, stream, seq, outcome, source_ip, org_path FROM events ORDER BY rowid"
    ).fetchall()


def test_stored_fields_and_words_come_from_the_one_parse_as_json_extract_reads_them(
    store: SqliteAuditStore,
) -> None:
    event = make_event(
        1, sequence=4, source_ip="10.1.2.3", org_path="/gd/gz", reason="quarterly stamp"
    )
    odd = b'{"anbao": {"stream": "x", "sequence": true}, "event": {"outcome": [1, "a"]}}'
    store.write_documents(
        [
            RawDocument(event.id, "2026-11-26T08:00:00.001000Z", event.canonical_bytes()),
            RawDocument("odd", "2026-11-26T08:00:00.002000Z", odd),
        ]
    )
    assert stored_columns(store) == [
        (event.id, "main", 4, "success", "10.1.2.3", "/gd/gz"),
        ("odd", "x", 1, '[1,"a"]', None, None),
    ]
    expected = store.connection.execute(
        "SELECT json_extract(doc, '$.anbao.sequence'), json_extract(doc, '$.event.outcome') "
        "FROM events WHERE event_id = 'odd'"
    ).fetchone()
    assert expected == (1, '[1,"a"]')  # what the triggers of the earlier layout computed
    words = store.connection.execute(
        "SELECT c0, c2, c3 FROM events_words ORDER BY rowid"
    ).fetchall()
    assert words == [("quarterly stamp", "seal.use", "alice"), (None, None, None)]


def test_a_documents_given_object_indexes_it_as_its_parse_would(tmp_path: Path) -> None:
    """The shipper hands a request event's object along (``RawDocument.parsed``): the columns
    and words are the ones a parse of the document gives."""
    record = RequestRecord("anbao", 1_795_680_000_123_456, "POST", "/seals/1", "/seals/{id}", 403,
                           5, "10.1.2.3", "curl/8", "t-1", "u-1", "zhang", ("r",), "/gd/gz")  # fmt: skip
    row = request_record.group([request_record.encode(record)] * 2)
    given, parsed = request_record.expand_group(row, b"s" * 16, "api", 0, 2)
    stores = [SqliteAuditStore(tmp_path / "given.db"), SqliteAuditStore(tmp_path / "parsed.db")]
    try:
        stores[0].write_documents([RawDocument(given.event_id, given.timestamp, given.document,
                                               given.parsed)])  # fmt: skip
        stores[1].write_documents([RawDocument(given.event_id, given.timestamp, given.document)])
        indexed = [
            (stored_columns(s), s.connection.execute("SELECT * FROM events_words").fetchall())
            for s in stores
        ]
    finally:
        for s in stores:
            s.close()
    assert indexed[0] == indexed[1]
    assert indexed[0][0] == [(given.event_id, "api", 0, "failure", "10.1.2.3", "/gd/gz")]
    assert parsed.parsed is not None


def test_changing_a_document_in_place_updates_its_columns_and_words(
    store: SqliteAuditStore,
) -> None:
    event = make_event(1, sequence=0, reason="quarterly")
    store.write_batch([event])
    doc = json.loads(event.canonical_bytes())
    doc["event"]["outcome"], doc["event"]["reason"] = "failure", "annual"
    store.connection.execute(
        "UPDATE events SET doc = ? WHERE event_id = ?", (json.dumps(doc), event.id)
    )
    assert stored_columns(store)[0][3] == "failure"
    hits = store.connection.execute(
        "SELECT rowid FROM events_words WHERE events_words MATCH 'annual'"
    ).fetchall()
    assert len(hits) == 1


_OLD_LAYOUT = [
    "CREATE TABLE events (event_id TEXT NOT NULL UNIQUE, stream TEXT, seq INTEGER,"
    " ts TEXT NOT NULL, doc TEXT NOT NULL)",
    "CREATE INDEX events_event_outcome ON events(json_extract(doc, '$.event.outcome'))",
    "CREATE VIRTUAL TABLE events_words USING fts5(c0, c1, c2, c3, c4, c5)",
    "CREATE TRIGGER events_words_ai AFTER INSERT ON events BEGIN INSERT INTO events_words"
    "(rowid, c0) VALUES (new.rowid, json_extract(new.doc, '$.event.reason')); END",
]


def test_a_store_of_the_trigger_layout_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    event = make_event(1, sequence=0, source_ip="10.0.0.9", reason="quarterly")
    old = sqlite3.connect(path)
    for statement in _OLD_LAYOUT:
        old.execute(statement)
    old.execute(
        "INSERT INTO events VALUES (?, 'main', 0, '2026-11-26T08:00:00Z', ?)",
        (event.id, event.canonical_bytes().decode()),
    )
    old.commit()
    old.close()
    store = SqliteAuditStore(path)
    try:
        store.write_batch([make_event(2, sequence=1, reason="quarterly")])
        db = store.connection
        assert stored_columns(store)[0][3:5] == ("success", "10.0.0.9")
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert "events_words_ai" not in names  # the writer fills the words now: once, not twice
        assert "events_event_outcome" not in names
        assert "events_outcome" in names
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        hits = db.execute("SELECT rowid FROM events_words WHERE events_words MATCH 'quarterly'")
        assert len(hits.fetchall()) == 2
    finally:
        store.close()
