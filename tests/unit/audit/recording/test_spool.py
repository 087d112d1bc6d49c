"""The durable spool: per-stream sequences, capacity, backpressure, several processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.errors import AuditSpoolFull
from audit.model import AuditEvent
from audit.recording.recorder import Recorder
from audit.recording.spool import Backpressure, FsyncPolicy, Spool, SpoolConfig
from tests.unit.audit.conftest import make_event


def test_sequences_are_per_stream_gapless_and_survive_reopen(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    out = spool.append([make_event(1), make_event(2, stream="iam"), make_event(3)])
    assert [(e.stream, e.sequence) for e in out] == [("main", 0), ("iam", 0), ("main", 1)]
    spool.close()
    again = spool_factory()
    assert [e.sequence for e in again.append([make_event(4), make_event(5)])] == [2, 3]
    assert again.stats().pending_events == 5


def test_spooled_document_is_the_canonical_form_with_sequence(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    (stored,) = spool.append([make_event(7)])
    (record,) = spool.peek(10)
    assert record.document == stored.canonical_bytes()
    assert record.sequence == 0
    assert record.timestamp == "2026-11-26T08:00:00.007000Z"


def test_ack_frees_capacity_and_bury_keeps_dead_letters(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    spool.append([make_event(i) for i in range(10)])
    records = spool.peek(4)
    spool.ack(records[:3])
    spool.bury(records[3:], ["mapping conflict"])
    stats = spool.stats()
    assert (stats.pending_events, stats.dead_events) == (6, 1)
    assert [r.sequence for r in spool.peek(100)] == list(range(4, 10))
    assert stats.pending_bytes == sum(len(r.document) for r in spool.peek(100))


@pytest.mark.parametrize("policy", [Backpressure.FAIL, Backpressure.BLOCK])
def test_full_spool_refuses_instead_of_dropping(
    spool_factory: Callable[..., Spool], policy: Backpressure
) -> None:
    spool = spool_factory(capacity_bytes=2000, backpressure=policy, block_timeout=0.0)
    stored = 0
    with pytest.raises(AuditSpoolFull):  # noqa: PT012 - fills until refused
        for i in range(100):
            spool.append([make_event(i)])
            stored += 1
    assert 0 < stored < 100
    assert spool.stats().pending_events == stored  # the refused event left no trace
    spool.ack(spool.peek(stored))
    assert spool.append([make_event(1000)])[0].sequence == stored  # no gap after refusal


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_every_fsync_policy_sets_sqlite_synchronous(tmp_path: Path, policy: FsyncPolicy) -> None:
    spool = Spool(SpoolConfig(path=tmp_path / "s.db", fsync=policy))
    spool.append([make_event(1)])
    spool.checkpoint()
    level = spool._db.execute("PRAGMA synchronous").fetchone()[0]
    assert level == (1 if policy is FsyncPolicy.INTERVAL else 2)  # NORMAL=1, FULL=2
    spool.close()


def _append_in_child(path: str, worker: int, count: int) -> None:
    spool = Spool(SpoolConfig(path=Path(path)))
    for i in range(count):
        spool.append([make_event(worker * 100_000 + i)])
    spool.close()


def test_several_processes_share_one_gapless_sequence(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Spool(SpoolConfig(path=path)).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_in_child, args=(str(path), w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    db = sqlite3.connect(path)
    seqs = [r[0] for r in db.execute("SELECT seq FROM spool ORDER BY seq")]
    ids = {r[0] for r in db.execute("SELECT event_id FROM spool")}
    db.close()
    assert seqs == list(range(600))
    assert len(ids) == 600


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_async_producers_are_acknowledged_after_the_commit_under_every_policy(
    spool_factory: Callable[..., Spool], policy: FsyncPolicy
) -> None:
    """Group commit (on the loop for ``interval``, on the group thread otherwise): every awaited
    event is in the spool with its own gapless sequence number when the await returns."""
    spool = spool_factory(fsync=policy)
    recorder = Recorder(spool)

    async def produce() -> list[AuditEvent]:
        async def one(n: int) -> AuditEvent:
            stored = await recorder.arecord_event(make_event(n, stream="api"))
            assert any(r.event_id == stored.id for r in spool.peek(1000))  # durable by now
            return stored

        return await asyncio.gather(*(one(n) for n in range(200)))

    try:
        stored = asyncio.run(produce())
    finally:
        recorder.close()
    assert sorted(e.sequence or 0 for e in stored) == list(range(200))
    assert spool.stats().pending_events == 200


def test_async_producer_on_a_full_spool_fails_rather_than_drops(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory(capacity_bytes=400, backpressure=Backpressure.FAIL)
    recorder = Recorder(spool)
    try:
        asyncio.run(recorder.arecord_event(make_event(stream="api")))
        with pytest.raises(AuditSpoolFull):
            asyncio.run(recorder.arecord_event(make_event(stream="api")))
    finally:
        recorder.close()
    assert spool.stats().pending_events == 1


class Statements:
    """The spool's connection, noting the statements it runs."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.seen = db, []

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        self.seen.append(sql)
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_a_handle_checkpoints_only_after_it_wrote(spool_factory: Callable[..., Spool]) -> None:
    """A handle that only read leaves the WAL to the handle that wrote it."""
    writer, reader = (
        spool_factory(fsync=FsyncPolicy.INTERVAL),
        spool_factory(fsync=FsyncPolicy.INTERVAL),
    )
    writer.append([make_event(1)])
    watched = Statements(reader._db)
    reader._db = watched  # type: ignore[assignment]
    reader.checkpoint()
    assert not any("wal_checkpoint" in sql for sql in watched.seen)
    reader.append([make_event(2)])
    reader.checkpoint()
    reader.checkpoint()  # nothing written since the last one
    assert sum("wal_checkpoint" in sql for sql in watched.seen) == 1


def test_a_producer_cursor_is_stored_with_its_events_or_not_at_all(tmp_path: Path) -> None:
    config = SpoolConfig(path=tmp_path / "spool.db", capacity_bytes=4096)
    spool = Spool(config)
    assert spool.cursor("keycloak") is None
    spool.append([make_event(1)], dedupe=True, cursor=("keycloak", "at-1"))
    assert spool.cursor("keycloak") == "at-1"
    # A refused append (here: the spool is full) keeps neither the events nor the new position.
    big = [make_event(n, reason="x" * 900) for n in range(2, 12)]
    with pytest.raises(AuditSpoolFull):
        spool.append(big, dedupe=True, wait=False, cursor=("keycloak", "at-11"))
    assert spool.cursor("keycloak") == "at-1"
    assert spool.stats().pending_events == 1
    spool.close()
    assert Spool(config).cursor("keycloak") == "at-1"  # durable, like the events
