"""Property: whatever mix of tamperings is applied, ``verify`` names exactly those events."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.integrity.verify import verify_stream
from crypto import sm2
from tests.unit.audit.integrity.helpers import MemoryStore, RawMemoryStore, make_events

KEY = sm2.PrivateKey.generate()


@st.composite
def tamperings(draw):
    size = draw(st.integers(min_value=4, max_value=60))
    positions = draw(st.permutations(range(size)))
    n_mod = draw(st.integers(0, 3))
    n_del = draw(st.integers(0, 3))
    n_swap = draw(st.integers(0, 2))
    cut = iter(positions)
    modified = [next(cut) for _ in range(min(n_mod, size // 4))]
    deleted = [next(cut) for _ in range(min(n_del, size // 4))]
    swaps = [(next(cut), next(cut)) for _ in range(min(n_swap, size // 8))]
    inserted = draw(st.lists(st.integers(0, size - 1), max_size=3, unique=True))
    window = draw(st.integers(1, 16))
    raw = draw(st.booleans())
    return size, modified, deleted, swaps, inserted, window, raw


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=tamperings())
def test_verify_names_exactly_what_was_done(case):
    size, modified, deleted, swaps, inserted, window, raw = case
    service = IntegrityService(
        SqliteIntegrityLog(":memory:"),
        HeadSigner(KEY),
        clock=time.time,
        policy=HeadPolicy(every_events=1 << 20, every_seconds=1e9),
    )
    store = RawMemoryStore() if raw else MemoryStore()
    events = make_events(size)
    store.write_batch(events)
    service.append(events)
    service.issue("main")
    expected = set()
    for p in modified:
        store.docs[events[p].id]["event"]["reason"] = "edited"
        expected.add(("modified", events[p].id, p, None))
    for p in deleted:
        del store.docs[events[p].id]
        expected.add(("deleted", events[p].id, p, None))
    for a, b in swaps:
        store.docs[events[a].id]["anbao"]["sequence"] = b
        store.docs[events[b].id]["anbao"]["sequence"] = a
        expected |= {("reordered", events[a].id, b, a), ("reordered", events[b].id, a, b)}
    for p in inserted:
        forged = make_events(1, start=p, prefix="forged")[0].to_document()
        store.docs[forged["event"]["id"]] = forged
        expected.add(("inserted", forged["event"]["id"], p, None))
    report = verify_stream(service.log, store, "main", service.trusted, window=window)
    found = {(f.kind.value, f.event_id, f.sequence, f.expected_sequence) for f in report.findings}
    assert found == expected
    assert report.ok is (not expected)
    service.log.close()
