"""Tamper tests (issue 5 "Done when"): edit the real stores behind Anbao's back, then verify.

Events go the real way: recorder (SM4-GCM sealer) -> durable spool -> store -> integrity log
(the shipper's hook) -> signed heads. Then one event is modified, one deleted, one inserted and
two swapped *directly in the store* (SQL on the SQLite file, the Elasticsearch document API);
``verify`` must name each, and the offline script must reject a tampered proof.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest

from audit.integrity.elasticsearch import RawReader, WithRawScan
from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.integrity.sqlite_raw import SqliteRawReader, WithSqliteRawScan
from audit.model import PersonalData, canonical_json
from audit.ports import RawDocument
from audit.recording.recorder import Recorder
from audit.recording.spool import Spool, SpoolConfig
from audit.sensitive.masking import FieldCipher, Keyring
from audit.stores.es_client import EsConnection, elasticsearch_client
from audit.stores.sqlite import SqliteAuditStore
from crypto import keys, sm2
from tests.paths import ROOT

N = 60


@pytest.fixture(params=["sqlite", "sqlite-raw", "elasticsearch", "elasticsearch-raw"])
def tamper_store(request, tmp_path):
    """Both stores; Elasticsearch also through the raw ``_source`` reader verify uses."""
    if request.param.startswith("sqlite"):
        store = SqliteAuditStore(tmp_path / "audit.sqlite3")
        if request.param == "sqlite-raw":
            yield WithSqliteRawScan(store, SqliteRawReader(store.path))
        else:
            yield store
        store.close()
        return
    es = request.getfixturevalue("es_store")
    if request.param == "elasticsearch":
        yield es
        return
    server = request.getfixturevalue("elasticsearch")
    env = server.env
    connection = EsConnection(
        server.url, env["ELASTICSEARCH_USERNAME"], env["ELASTICSEARCH_PASSWORD"]
    )
    client = elasticsearch_client(connection, raw=True)
    yield WithRawScan(es, RawReader(client, es.pattern))
    client.close()


@pytest.fixture
def trail(tamper_store, tmp_path):
    """60 events through recorder, spool, store and integrity log; heads every 16 events."""
    audit_store = tamper_store
    recorder = Recorder(
        Spool(SpoolConfig(tmp_path / "spool.sqlite3")), sealer=FieldCipher(Keyring.generate())
    )
    key = sm2.PrivateKey.generate()
    integrity = IntegrityService(
        SqliteIntegrityLog(tmp_path / "integrity.sqlite3"),
        HeadSigner(key),
        clock=time.time,
        policy=HeadPolicy(every_events=16, every_seconds=3600),
    )
    for i in range(N):
        recorder.record(
            "seal.use",
            "success" if i % 3 else "failure",
            org_path="/gov/finance",
            source_ip="10.1.2.3",
            personal=PersonalData(phone=f"1380013{i:04d}") if i % 4 == 0 else None,
        )
    while records := recorder.spool.peek(16, 1 << 24):  # what Shipper + integrity hook do
        audit_store.write_documents(
            [RawDocument(r.event_id, r.timestamp, r.document) for r in records]
        )
        integrity.append_records(records)
        recorder.spool.ack(records)
    integrity.issue("main")
    audit_store.refresh()
    events = list(audit_store.scan("main"))
    assert len(events) == N
    yield audit_store, integrity, events, key, tmp_path
    recorder.close()
    recorder.spool.close()
    integrity.log.close()


def _ids(events, *positions):
    return [events[p]["event"]["id"] for p in positions]


# -- direct edits, one per store technology ----------------------------------------------------


def _sqlite_db(store) -> sqlite3.Connection:
    return sqlite3.connect(store.path)


def _es_locate(store, event_id):
    hits = store.client.search(index=store.pattern, query={"ids": {"values": [event_id]}})["hits"][
        "hits"
    ]
    return hits[0]["_index"], hits[0]["_source"]


def tamper_modify(store, event_id, mutate):
    if store.kind == "sqlite":
        with _sqlite_db(store) as db:
            (text,) = db.execute("SELECT doc FROM events WHERE event_id=?", (event_id,)).fetchone()
            doc = json.loads(text)
            mutate(doc)
            db.execute(
                "UPDATE events SET doc=?, seq=? WHERE event_id=?",
                (json.dumps(doc), doc["anbao"]["sequence"], event_id),
            )
    else:
        index, doc = _es_locate(store, event_id)
        mutate(doc)
        store.client.index(index=index, id=event_id, document=doc, refresh=True)


def tamper_delete(store, event_id):
    if store.kind == "sqlite":
        with _sqlite_db(store) as db:
            db.execute("DELETE FROM events WHERE event_id=?", (event_id,))
    else:
        index, _ = _es_locate(store, event_id)
        store.client.delete(index=index, id=event_id, refresh=True)


def tamper_insert(store, doc):
    if store.kind == "sqlite":
        with _sqlite_db(store) as db:
            db.execute(
                "INSERT INTO events(event_id, stream, seq, ts, doc) VALUES (?,?,?,?,?)",
                (
                    doc["event"]["id"],
                    "main",
                    doc["anbao"]["sequence"],
                    doc["@timestamp"],
                    json.dumps(doc),
                ),
            )
    else:
        index, _ = _es_locate(store, doc["event"]["id"].removeprefix("forged-"))
        store.client.index(index=index, id=doc["event"]["id"], document=doc, refresh=True)


def set_sequence(seq):
    def mutate(doc):
        doc["anbao"]["sequence"] = seq

    return mutate


def findings_of(report):
    return sorted(
        (f.kind.value, f.event_id, f.sequence, f.expected_sequence)
        for s in report.streams
        for f in s.findings
    )


# -- the four tamperings -----------------------------------------------------------------------


def test_intact_trail_verifies(trail):
    store, integrity, _events, _key, _ = trail
    report = integrity.verify(store)
    assert report.ok, report.to_json()
    assert report.streams[0].checked_events == N
    assert report.streams[0].signed_size == N


def test_modified_event_is_named(trail):
    store, integrity, events, _key, _ = trail
    (victim,) = _ids(events, 10)
    assert events[10]["event"]["outcome"] == "success"
    tamper_modify(store, victim, lambda d: d["event"].update(outcome="failure"))
    store.refresh()
    assert findings_of(integrity.verify(store)) == [("modified", victim, 10, None)]


def test_deleted_event_is_named(trail):
    store, integrity, events, _key, _ = trail
    (victim,) = _ids(events, 33)
    tamper_delete(store, victim)
    store.refresh()
    assert findings_of(integrity.verify(store)) == [("deleted", victim, 33, None)]


def test_inserted_event_is_named(trail):
    store, integrity, events, _key, _ = trail
    forged = json.loads(json.dumps(events[20]))
    forged["event"]["id"] = "forged-" + forged["event"]["id"]
    forged["user"] = {"name": "nobody"}
    tamper_insert(store, forged)
    store.refresh()
    assert findings_of(integrity.verify(store)) == [("inserted", forged["event"]["id"], 20, None)]


def test_swapped_events_are_named(trail):
    store, integrity, events, _key, _ = trail
    a, b = _ids(events, 5, 41)
    tamper_modify(store, a, set_sequence(41))
    tamper_modify(store, b, set_sequence(5))
    store.refresh()
    assert findings_of(integrity.verify(store)) == [
        ("reordered", a, 41, 5),
        ("reordered", b, 5, 41),
    ]


# -- the offline procedure --------------------------------------------------------------------


def _script(tmp_path, kind, body, key, *extra):
    proof = tmp_path / f"{kind}.json"
    proof.write_text(json.dumps(body))
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "verify_proof.py"),
            kind,
            str(proof),
            "--key",
            str(key),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_offline_script_checks_inclusion_and_consistency(trail):
    store, integrity, events, key, tmp_path = trail
    pem = tmp_path / "head-key.pem"
    pem.write_bytes(keys.dump_public_key(key.public_key()))
    doc = store.get(events[27]["event"]["id"])
    document = tmp_path / "event.json"
    document.write_text(json.dumps(doc, ensure_ascii=False))
    proof = integrity.inclusion(doc)
    ok = _script(tmp_path, "inclusion", proof, pem, "--document", str(document))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("VERIFIED")

    tampered = json.loads(document.read_text())
    tampered["event"]["outcome"] = (
        "failure" if tampered["event"]["outcome"] == "success" else "success"
    )
    bad_doc = tmp_path / "tampered.json"
    bad_doc.write_text(json.dumps(tampered, ensure_ascii=False))
    assert _script(tmp_path, "inclusion", proof, pem, "--document", str(bad_doc)).returncode == 1
    forged = {**proof, "leaf_input": canonical_json(tampered).decode()}
    assert _script(tmp_path, "inclusion", forged, pem).returncode == 1
    other = tmp_path / "other.pem"
    other.write_bytes(keys.dump_public_key(sm2.PrivateKey.generate().public_key()))
    assert _script(tmp_path, "inclusion", proof, other).returncode == 1
    resigned = {
        **proof,
        "tree_head": {**proof["tree_head"], "timestamp": proof["tree_head"]["timestamp"] + 1},
    }
    assert _script(tmp_path, "inclusion", resigned, pem).returncode == 1

    sizes = [h.size for h in integrity.log.heads("main")]
    cons = integrity.consistency("main", sizes[0], sizes[-1])
    ok = _script(tmp_path, "consistency", cons, pem)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    cons["proof"][0] = "00" * 32
    assert _script(tmp_path, "consistency", cons, pem).returncode == 1


@pytest.mark.parametrize("tamper_store", ["sqlite-raw", "elasticsearch-raw"], indirect=True)
def test_raw_reader_returns_the_indexed_bytes(trail, monkeypatch):
    store, integrity, events, _key, _ = trail
    assert isinstance(store, WithRawScan | WithSqliteRawScan)
    import audit.integrity.elasticsearch as raw_module

    def no_fallback(body):
        raise AssertionError("fell back to parsing")

    monkeypatch.setattr(raw_module, "_canonical_rows", no_fallback)
    if isinstance(store, WithSqliteRawScan):
        assert [raw for _, raw in store.scan_raw("main")] == [canonical_json(d) for d in events]
    rows = list(store.scan_raw("main", batch_size=7))
    assert [seq for seq, _ in rows] == list(range(N))
    assert [raw for _, raw in rows] == [canonical_json(doc) for doc in events]
    assert integrity.verify(store).ok
