"""Signed tree heads, proofs and ``verify`` over an in-memory store: every tampering named."""

from __future__ import annotations

import json

import pytest

from audit.integrity import merkle
from audit.integrity.model import (
    EventNotLogged,
    FindingKind,
    IntegrityError,
    SignedTreeHead,
    tree_head_tbs,
)
from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService, leaf_record
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.model import canonical_json
from crypto import sm2
from tests.unit.audit.integrity.helpers import MemoryStore, make_events
from tests.unit.clocks import eventually


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> sm2.PrivateKey:
    return sm2.PrivateKey.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(key, clock, tmp_path) -> IntegrityService:
    log = SqliteIntegrityLog(tmp_path / "integrity.sqlite3")
    return IntegrityService(
        log, HeadSigner(key), clock=clock, policy=HeadPolicy(every_events=10, every_seconds=60)
    )


def ingest(service, store, events, batch=7):
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        store.write_batch(chunk)
        service.append(chunk)


def kinds(report):
    return sorted(
        (f.kind.value, f.event_id, f.sequence) for s in report.streams for f in s.findings
    )


def test_heads_issued_every_n_events_and_after_t_seconds(service, clock):
    store = MemoryStore()
    ingest(service, store, make_events(25), batch=5)
    assert [h.size for h in service.log.heads("main")] == [10, 20]
    assert service.issue_due() == []
    clock.now += 61
    (head,) = service.issue_due()
    assert head.size == 25
    assert service.issue_due() == []  # nothing new: no head with the same size


def test_intact_store_verifies(service):
    store = MemoryStore()
    ingest(service, store, make_events(40) + make_events(13, stream="keycloak"))
    service.issue("main")
    service.issue("keycloak")
    report = service.verify(store)
    assert report.ok, report.to_json()
    assert [s.checked_events for s in report.streams] == [13, 40]
    assert kinds(report) == []


def test_head_signature_covers_documented_bytes(service, key):
    store = MemoryStore()
    ingest(service, store, make_events(10))
    head = service.log.heads("main")[-1]
    tbs = b"anbao-audit-sth\x00" + bytes([1]) + (4).to_bytes(2, "big") + b"main"
    tbs += (10).to_bytes(8, "big") + head.timestamp_ms.to_bytes(8, "big") + head.root
    assert head.signed_bytes() == tbs == tree_head_tbs("main", 10, head.timestamp_ms, head.root)
    key.public_key().verify(head.signature, tbs)
    assert SignedTreeHead.from_json(json.loads(json.dumps(head.to_json()))) == head


def tamper_setup(service, n=30):
    store = MemoryStore()
    events = make_events(n)
    ingest(service, store, events)
    service.issue("main")
    return store, events


def test_modified_event_is_named(service):
    store, events = tamper_setup(service)
    store.docs[events[4].id]["event"]["outcome"] = "failure"
    report = service.verify(store)
    assert not report.ok
    assert kinds(report) == [("modified", events[4].id, 4)]


def test_deleted_event_is_named(service):
    store, events = tamper_setup(service)
    del store.docs[events[17].id]
    assert kinds(service.verify(store)) == [("deleted", events[17].id, 17)]


def test_inserted_event_is_named(service):
    store, _events = tamper_setup(service)
    forged = make_events(1, start=12, prefix="forged")[0].to_document()
    store.docs[forged["event"]["id"]] = forged
    assert kinds(service.verify(store)) == [("inserted", "forged-main-12", 12)]


def test_swapped_events_are_named_as_reordered(service):
    store, events = tamper_setup(service)
    a, b = store.docs[events[3].id], store.docs[events[21].id]
    a["anbao"]["sequence"], b["anbao"]["sequence"] = 21, 3
    report = service.verify(store)
    findings = {f.event_id: f for s in report.streams for f in s.findings}
    assert kinds(report) == [("reordered", events[21].id, 3), ("reordered", events[3].id, 21)]
    assert findings[events[3].id].expected_sequence == 3
    assert findings[events[21].id].expected_sequence == 21


def test_all_four_at_once_in_small_windows(service):
    from audit.integrity.verify import verify_stream

    store, events = tamper_setup(service, n=60)
    store.docs[events[1].id]["user"]["name"] = "mallory"
    del store.docs[events[33].id]
    forged = make_events(1, start=50, prefix="forged")[0].to_document()
    store.docs["forged"] = forged
    store.docs[events[8].id]["anbao"]["sequence"] = 44
    store.docs[events[44].id]["anbao"]["sequence"] = 8
    report = verify_stream(service.log, store, "main", service.trusted, window=7)
    assert sorted((f.kind.value, f.event_id) for f in report.findings) == [
        ("deleted", events[33].id),
        ("inserted", "forged-main-50"),
        ("modified", events[1].id),
        ("reordered", events[44].id),
        ("reordered", events[8].id),
    ]


def test_tail_not_yet_logged_is_informational(service):
    store, _ = tamper_setup(service)
    late = make_events(2, start=30)
    store.write_batch(late)  # stored, not yet logged by the pipeline
    report = service.verify(store)
    assert report.ok
    assert kinds(report) == [("unlogged", late[0].id, 30), ("unlogged", late[1].id, 31)]


def test_rewritten_leaf_log_breaks_the_signed_root(service):
    store, _events = tamper_setup(service)
    log = service.log
    log._db.execute("UPDATE leaves SET leaf_hash = ? WHERE seq = 5", (b"\x01" * 32,))
    report = service.verify(store)
    assert FindingKind.HEAD_ROOT in {f.kind for s in report.streams for f in s.findings}


def test_forged_head_signature_and_unknown_key(service):
    store, _ = tamper_setup(service)
    head = service.log.heads("main")[-1]
    service.log._db.execute("UPDATE heads SET ts_ms = ts_ms + 1 WHERE size = ?", (head.size,))
    other = HeadSigner(sm2.PrivateKey.generate())
    fake = SignedTreeHead("main", 5, 1, head.root, other.key_id, other.sign(b"x"))
    service.log.add_head(fake)
    findings = [f for s in service.verify(store).streams for f in s.findings]
    assert {(f.kind.value, f.sequence, f.detail) for f in findings} >= {
        ("head_signature", head.size, "signature does not verify"),
        ("head_signature", 5, "signed by an unknown key"),
    }


def test_truncated_log_against_an_anchored_head(service, tmp_path, key, clock):
    store, events = tamper_setup(service)
    anchors = [SignedTreeHead.from_json(json.loads(line)) for line in service.export_heads()]
    service.log._db.execute("DELETE FROM heads")
    service.log._db.execute("DELETE FROM leaves WHERE seq >= 25")
    service.log._db.execute("UPDATE stream_sizes SET size = 25")
    for e in events[25:]:
        del store.docs[e.id]
    assert service.verify(store).ok  # without the anchor, a clean truncation is invisible
    report = service.verify(store, anchors=anchors)
    assert not report.ok
    assert {f.kind for f in report.streams[0].findings} == {FindingKind.HEAD_ROOT}


def test_relogging_is_idempotent_and_rewriting_refused(service):
    store = MemoryStore()
    events = make_events(5)
    ingest(service, store, events)
    service.append(events)  # redelivery
    assert service.log.size("main") == 5
    changed = make_events(1, prefix="other")[0]
    with pytest.raises(IntegrityError):
        service.append([changed])


def test_gap_keeps_the_size_at_the_prefix(service):
    events = make_events(6)
    service.append(events[:2] + events[3:])
    assert service.log.size("main") == 2
    service.append([events[2]])
    assert service.log.size("main") == 6


def test_inclusion_proof_checks_offline(service):
    store, events = tamper_setup(service, n=23)
    doc = store.get(events[9].id)
    proof = service.inclusion(doc)
    head = SignedTreeHead.from_json(proof["tree_head"])
    leaf = merkle.SM3.leaf(canonical_json(doc))
    assert proof["document_matches_log"] is True
    merkle.verify_inclusion(
        merkle.SM3,
        index=proof["leaf_index"],
        size=head.size,
        leaf_hash=leaf,
        path=[bytes.fromhex(p) for p in proof["audit_path"]],
        root_hash=head.root,
    )
    store.docs[events[9].id]["event"]["action"] = "seal.revoke"
    assert service.inclusion(store.get(events[9].id))["document_matches_log"] is False


def test_inclusion_needs_a_covering_head(service):
    store = MemoryStore()
    events = make_events(3)
    ingest(service, store, events)
    with pytest.raises(EventNotLogged):
        service.inclusion(store.get(events[0].id))


def test_consistency_between_heads(service, clock):
    store = MemoryStore()
    ingest(service, store, make_events(37), batch=3)
    sizes = [h.size for h in service.log.heads("main")]
    assert sizes == [12, 24, 36]
    result = service.consistency("main", 12, 36)
    first = SignedTreeHead.from_json(result["first"])
    second = SignedTreeHead.from_json(result["second"])
    merkle.verify_consistency(
        merkle.SM3,
        first=12,
        second=36,
        first_root=first.root,
        second_root=second.root,
        proof=[bytes.fromhex(p) for p in result["proof"]],
    )


def test_time_window_maps_to_head_boundaries(service, clock):
    store = MemoryStore()
    for i in range(3):
        ingest(service, store, make_events(10, start=10 * i))
        clock.now += 100
    heads = service.log.heads("main")
    assert [h.size for h in heads] == [10, 20, 30]
    start, stop = service.sequence_range("main", heads[0].timestamp_ms, heads[1].timestamp_ms + 1)
    assert (start, stop) == (10, 30)
    report = service.verify(
        store, time_from_ms=heads[0].timestamp_ms, time_to_ms=heads[1].timestamp_ms + 1
    )
    assert report.streams[0].checked_events == 20


def test_document_without_sequence_is_counted(service):
    store, _events = tamper_setup(service)
    forged = make_events(1, prefix="noseq")[0].to_document()
    del forged["anbao"]["sequence"]
    store.docs["noseq"] = forged
    findings = [f for s in service.verify(store).streams for f in s.findings]
    assert [(f.kind.value, f.event_id, f.detail) for f in findings] == [
        ("inserted", "", "1 stored document(s) without a valid anbao.sequence")
    ]


@pytest.mark.parametrize("background", [False, True], ids=["inline", "prefetch"])
@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "raw"])
def test_all_four_with_raw_scan_and_prefetch(service, raw, background):
    from audit.integrity.scan import RawScanner
    from audit.integrity.verify import verify_stream
    from tests.unit.audit.integrity.helpers import RawMemoryStore

    store = RawMemoryStore() if raw else MemoryStore()
    assert isinstance(store, RawScanner) is raw
    events = make_events(40)
    ingest(service, store, events)
    service.issue("main")
    store.docs[events[2].id]["event"]["action"] = "seal.forge"
    del store.docs[events[30].id]
    store.docs["x"] = make_events(1, start=9, prefix="forged")[0].to_document()
    store.docs[events[11].id]["anbao"]["sequence"] = 12
    store.docs[events[12].id]["anbao"]["sequence"] = 11
    report = verify_stream(
        service.log, store, "main", service.trusted, window=8, background=background
    )
    assert sorted((f.kind.value, f.event_id, f.sequence) for f in report.findings) == [
        ("deleted", events[30].id, 30),
        ("inserted", "forged-main-9", 9),
        ("modified", events[2].id, 2),
        ("reordered", events[11].id, 12),
        ("reordered", events[12].id, 11),
    ]
    assert report.checked_events == 40


def test_ticker_signs_a_quiet_stream(service, clock):
    from audit.integrity.service import HeadTicker

    store = MemoryStore()
    ingest(service, store, make_events(3))
    assert service.log.heads("main") == []
    ticker = HeadTicker(service, period=0.01)
    ticker.start()
    try:
        clock.now += 61
        assert eventually(lambda: bool(service.log.heads("main")))
    finally:
        ticker.stop()
    assert [h.size for h in service.log.heads("main")] == [3]


def test_log_reopens_after_close(service):
    store = MemoryStore()
    ingest(service, store, make_events(12))
    service.log.close()
    assert service.log.size("main") == 12  # an ASGI lifespan shutdown closed it; it reopens
    assert service.verify(store).ok


def test_a_node_signs_heads_only_for_the_streams_it_owns(key, clock, tmp_path):
    log = SqliteIntegrityLog(tmp_path / "shared.sqlite3")
    node_a = IntegrityService(
        log,
        HeadSigner(key),
        clock=clock,
        policy=HeadPolicy(every_events=1000, every_seconds=60),
        owns=lambda stream: stream.endswith(".a"),
    )
    mine = [e.with_sequence(i, "main.a") for i, e in enumerate(make_events(3))]
    theirs = [e.with_sequence(i, "main.b") for i, e in enumerate(make_events(2))]
    log.append_leaves([leaf_record(e.to_document()) for e in mine + theirs])
    assert node_a.own_streams() == ["main.a"]
    clock.now += 61
    node_a.issue_due()  # the ticker's call: every stream this node signs
    clock.now += 61
    node_a.issue_due()
    assert [(h.stream, h.size) for h in log.heads()] == [("main.a", 3)]
