"""Recorder -> spool -> shipper -> store, with the embedded store and a store that goes down."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from audit.errors import AuditError, AuditSpoolFull, AuditStoreUnavailable
from audit.ids import new_event_id, uuid7
from audit.model import Outcome
from audit.ports import RawDocument
from audit.recording.recorder import Recorder, arecord, install, record
from audit.recording.shipper import Shipper
from audit.recording.spool import (
    Backpressure,
    FsyncPolicy,
    Spool,
    SpoolConfig,
    SpooledRecord,
    SpoolStats,
)
from tests.unit.audit.conftest import T0, FlakyStore, make_event
from tests.unit.clocks import LIVENESS_SECONDS


@pytest.fixture
def recorder(spool_factory: Callable[..., Spool]) -> Iterator[Recorder]:
    r = Recorder(spool_factory(), clock=lambda: T0, new_id=new_event_id)
    yield r
    r.close()


def test_record_returns_the_durable_sequenced_event(recorder: Recorder) -> None:
    event = recorder.record("seal.use", "success", category=("iam",), org_path="/acme")
    assert event.sequence == 0
    assert recorder.spool.stats().pending_events == 1
    assert recorder.spool.peek(1)[0].document == event.canonical_bytes()


def test_concurrent_producers_share_commits_and_lose_nothing(recorder: Recorder) -> None:
    def produce() -> None:
        for _ in range(200):
            recorder.record("seal.use", Outcome.SUCCESS)

    threads = [threading.Thread(target=produce) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = recorder.spool.peek(10_000)
    assert sorted(r.sequence for r in records) == list(range(1600))
    assert len({r.event_id for r in records}) == 1600


def test_async_recording_does_not_block_the_loop(recorder: Recorder) -> None:
    async def main() -> list[int | None]:
        events = [recorder.event("api.request", "success") for _ in range(50)]
        done = await asyncio.gather(*(recorder.arecord_event(e) for e in events))
        return sorted(e.sequence for e in done)

    assert asyncio.run(main()) == list(range(50))


def test_module_level_record_needs_an_installed_recorder(recorder: Recorder) -> None:
    install(None)
    with pytest.raises(AuditError):
        record("seal.use", "success")
    install(recorder)
    try:
        assert record("seal.use", "success").sequence == 0
    finally:
        install(None)


def test_full_spool_fails_the_producer(spool_factory: Callable[..., Spool]) -> None:
    spool = spool_factory(capacity_bytes=1500, backpressure=Backpressure.FAIL)
    rec = Recorder(spool, clock=lambda: T0)
    try:
        with pytest.raises(AuditSpoolFull):  # noqa: PT012 - fills until refused
            for _ in range(50):
                rec.record("seal.use", "success")
    finally:
        rec.close()


def test_always_policy_commits_each_event(spool_factory: Callable[..., Spool]) -> None:
    rec = Recorder(spool_factory(fsync=FsyncPolicy.ALWAYS), clock=lambda: T0)
    try:
        assert [rec.record("a.b", "success").sequence for _ in range(3)] == [0, 1, 2]
    finally:
        rec.close()


def test_shipper_moves_everything_exactly_once(recorder: Recorder, store: FlakyStore) -> None:
    recorder.record_many([make_event(i) for i in range(120)])
    shipper = Shipper(recorder.spool, store, batch_size=50)
    assert shipper.drain(timeout=LIVENESS_SECONDS)
    assert store.count() == 120
    assert [d["anbao"]["sequence"] for d in store.scan("main")] == list(range(120))
    assert shipper.counters.shipped == 120
    shipper.unlock()


def test_redelivery_after_a_crash_before_ack_is_harmless(
    recorder: Recorder, store: FlakyStore
) -> None:
    recorder.record_many([make_event(i) for i in range(30)])
    records = recorder.spool.peek(100)
    store.write_documents([RawDocument(r.event_id, r.timestamp, r.document) for r in records])
    # the process died here: written to the store, never acknowledged in the spool
    shipper = Shipper(recorder.spool, store)
    assert shipper.drain(timeout=LIVENESS_SECONDS)
    assert store.count() == 30
    assert shipper.counters.duplicates == 30
    shipper.unlock()


def test_outage_keeps_events_and_raises_the_alarm_once(
    spool_factory: Callable[..., Spool], store: FlakyStore
) -> None:
    spool = spool_factory(capacity_bytes=20_000, alarm_ratio=0.5)
    rec = Recorder(spool, clock=lambda: T0)
    alarms: list[SpoolStats] = []
    shipper = Shipper(spool, store, on_alarm=alarms.append)
    store.up = False
    rec.record_many([make_event(i) for i in range(60)])
    with pytest.raises(AuditStoreUnavailable):
        shipper.ship_once()
    shipper.check_alarm()
    shipper.check_alarm()
    assert len(alarms) == 1
    assert alarms[0].fill_ratio >= 0.5
    store.up = True
    assert shipper.drain(timeout=LIVENESS_SECONDS)
    assert store.count() == 60
    shipper.unlock()
    rec.close()


def test_refused_documents_go_to_dead_letters_not_away(
    recorder: Recorder, store: FlakyStore
) -> None:
    events = recorder.record_many([make_event(i) for i in range(10)])
    store.refuse = {events[3].id}
    shipper = Shipper(recorder.spool, store)
    assert shipper.drain(timeout=LIVENESS_SECONDS)
    assert store.count() == 9
    assert recorder.spool.stats().dead_events == 1
    assert shipper.counters.dead == 1
    shipper.unlock()


def test_only_one_shipper_holds_the_spool(recorder: Recorder, store: FlakyStore) -> None:
    first = Shipper(recorder.spool, store)
    second = Shipper(recorder.spool, store)
    assert first.try_lock()
    assert not second.try_lock()
    recorder.record("seal.use", "success")
    assert second.ship_once() == 0
    first.unlock()
    assert second.try_lock()
    assert second.ship_once() == 1
    second.unlock()


def ship_in_background(shipper: Shipper, recorder: Recorder, store: FlakyStore, count: int) -> None:
    """Records ``count`` events while ``shipper``'s thread runs; stops it once the store holds
    them (or after about 5 s)."""
    shipper.start()
    try:
        recorder.record_many([make_event(i) for i in range(count)])
        for _ in range(500):
            if store.count() == count:
                break
            threading.Event().wait(0.01)
    finally:
        shipper.stop()


def test_background_shipper_thread(recorder: Recorder, store: FlakyStore) -> None:
    ship_in_background(Shipper(recorder.spool, store, idle_wait=0.01), recorder, store, 25)
    assert store.count() == 25
    assert recorder.spool.stats().pending_events == 0


def test_maintenance_runs_when_due_and_survives_failures(
    recorder: Recorder, store: FlakyStore
) -> None:
    now = [0.0]
    runs: list[float] = []

    def retention() -> None:
        runs.append(now[0])
        if len(runs) == 2:
            raise AuditStoreUnavailable("down during retention")

    shipper = Shipper(
        recorder.spool, store, maintenance=retention, maintenance_every=60, monotonic=lambda: now[0]
    )
    assert shipper.maybe_maintain()
    now[0] = 30
    assert not shipper.maybe_maintain()
    now[0] = 61
    assert shipper.maybe_maintain()  # raised inside: logged, not propagated
    now[0] = 122
    assert shipper.maybe_maintain()
    assert runs == [0.0, 61, 122]


def test_event_ids_are_uuid7_and_unique() -> None:
    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    sample = uuid.UUID(next(iter(ids)))
    assert (sample.version, sample.variant) == (7, uuid.RFC_4122)
    early = new_event_id(clock_ms=lambda: 1_000)
    late = new_event_id(clock_ms=lambda: 2_000)
    assert early < late  # time-ordered


@pytest.mark.parametrize("bits", [0, 1, (1 << 74) - 1, 0x2A5A5A5A5A5A5A5A5A5])
def test_uuid7_text_is_what_the_uuid_module_writes(bits: int) -> None:
    text = uuid7(0x0123456789AB, bits)
    value = (0x0123456789AB << 80) | (0x7 << 76) | ((bits >> 62) & 0xFFF) << 64
    value |= (0b10 << 62) | (bits & ((1 << 62) - 1))
    assert text == str(uuid.UUID(int=value))
    assert uuid.UUID(text).version == 7


def test_on_stored_hook_sees_every_sequence_before_ack(
    recorder: Recorder, store: FlakyStore
) -> None:
    events = recorder.record_many([make_event(i) for i in range(6)])
    store.refuse = {events[2].id}
    seen: list[list[int]] = []
    shipper = Shipper(recorder.spool, store)

    def hook(records: Sequence[SpooledRecord]) -> None:
        seen.append([r.sequence for r in records])
        if len(seen) == 1:
            raise RuntimeError("integrity log busy")

    shipper.on_stored = hook
    with pytest.raises(RuntimeError):
        shipper.ship_once()
    assert recorder.spool.stats().pending_events == 6  # nothing buried or acked yet
    assert shipper.drain(timeout=LIVENESS_SECONDS)
    # The refused event is logged too (no gap in the Merkle sequence) and buried afterwards.
    assert seen == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]
    assert recorder.spool.stats().dead_events == 1
    assert store.count() == 5
    shipper.unlock()


def test_module_level_async_record(recorder: Recorder) -> None:
    install(recorder)
    try:
        event = asyncio.run(arecord("seal.use", "success", org_path="/acme"))
    finally:
        install(None)
    assert event.sequence == 0
    assert recorder.spool.peek(1)[0].document == event.canonical_bytes()


def test_the_spool_keeps_its_place_when_the_working_directory_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: FlakyStore
) -> None:
    """A relative spool path is resolved once: the lock file is found there later, wherever
    the process's working directory is by then."""
    monkeypatch.chdir(tmp_path)
    spool = Spool(SpoolConfig(path=Path("spool.sqlite3"), fsync=FsyncPolicy.INTERVAL))
    recorder = Recorder(spool)
    recorder.record_many([make_event(i) for i in range(3)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    shipper = Shipper(spool, store)
    try:
        assert shipper.drain(timeout=LIVENESS_SECONDS)
    finally:
        shipper.unlock()
        recorder.close()
        spool.close()
    assert store.count() == 3
    assert (tmp_path / "spool.sqlite3.lock").exists()
    assert not (elsewhere / "spool.sqlite3.lock").exists()


class LockTrouble(Shipper):
    """A shipper whose first attempts at the lock file fail (a full disk, a removed folder)."""

    failures = 2

    def try_lock(self) -> bool:
        if self.failures:
            self.failures -= 1
            raise OSError("no lock file here")
        return super().try_lock()


def test_the_shipper_thread_outlives_a_failing_lock_file(
    recorder: Recorder, store: FlakyStore
) -> None:
    shipper = LockTrouble(recorder.spool, store, idle_wait=0.01)
    ship_in_background(shipper, recorder, store, 5)
    assert store.count() == 5
    assert shipper.counters.store_failures == 2


def _until(condition: Callable[[], bool]) -> None:
    for _ in range(int(LIVENESS_SECONDS * 100)):
        if condition():
            return
        threading.Event().wait(0.01)
    pytest.fail("the shipper thread did not get there")


def test_a_stalled_delivery_is_reported_once_and_rearmed_by_a_delivery(
    recorder: Recorder, store: FlakyStore
) -> None:
    """audit.shipping.stopped: reported once when delivery has failed for ``stall_seconds``
    on end, not on every retry; the next delivery re-arms it."""
    now = [0.0]
    stalls: list[tuple[float, str]] = []
    shipper = Shipper(
        recorder.spool, store, idle_wait=0.01, stall_seconds=60, monotonic=lambda: now[0],
        on_stall=lambda seconds, code: stalls.append((seconds, code)),
    )  # fmt: skip
    store.up = False
    recorder.record("seal.use", "success")
    shipper.start()
    try:
        _until(lambda: store.calls >= 2)
        assert stalls == []  # failing, but not for a minute yet
        now[0] = 61.0
        _until(lambda: bool(stalls))
        calls = store.calls
        _until(lambda: store.calls >= calls + 2)
        assert stalls == [(61.0, "audit_store_unavailable")]
        store.up = True
        _until(lambda: store.count() == 1 and recorder.spool.stats().empty)
        failures = shipper.counters.store_failures
        store.up = False
        recorder.record("seal.use", "success")
        _until(lambda: shipper.counters.store_failures > failures)  # a new outage, from 61 s
        now[0] = 200.0
        _until(lambda: len(stalls) == 2)
    finally:
        shipper.stop()


def test_refused_documents_are_reported(recorder: Recorder, store: FlakyStore) -> None:
    """audit.shipping.dead_letter: the ids the store refused for good, with its reason."""
    events = recorder.record_many([make_event(i) for i in range(4)])
    store.refuse = {events[2].id}
    reported: list[Sequence[tuple[str, str]]] = []
    shipper = Shipper(recorder.spool, store, on_dead_letter=reported.append)
    assert shipper.drain(timeout=LIVENESS_SECONDS)
    assert reported == [[(events[2].id, "mapping conflict")]]
    shipper.unlock()


def test_only_a_full_round_is_followed_at_once_by_the_next(
    recorder: Recorder, store: FlakyStore
) -> None:
    """After a partial round the background shipper waits for a batch to gather."""
    recorder.record_many([make_event(i) for i in range(5)])
    shipper = Shipper(recorder.spool, store, batch_size=3)
    try:
        assert shipper.ship_once() == 3
        assert shipper._full_round  # a backlog is likely left: the next round at once
        assert shipper.ship_once() == 2
        assert not shipper._full_round  # caught up: the next round after idle_wait
    finally:
        shipper.unlock()
