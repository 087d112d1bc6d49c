"""The request journal: frames in a memory-mapped file per process, moved into the spool once."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import falcon
import falcon.asgi
import falcon.testing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.errors import AuditSpoolFull
from audit.recording import journal, request_record
from audit.recording.middleware import AuditMiddleware
from audit.recording.recorder import Recorder
from audit.recording.spool import Backpressure, FsyncPolicy, Spool, SpoolConfig
from tests.paths import ROOT
from tests.unit.audit.conftest import make_event
from tests.unit.audit.recording.test_request_record import facts
from tests.unit.clocks import LIVENESS_SECONDS, SteppedClock, eventually

TAG = b"api\0"


def payload(n: int) -> bytes:
    return request_record.encode(**facts(path=f"/items/{n}", trace_id=f"req-{n}"))


def frames(count: int) -> list[bytes]:
    return [journal.frame(TAG, payload(n)) for n in range(count)]


# -- parsing ------------------------------------------------------------------------------------


def test_frames_are_read_up_to_the_unwritten_space() -> None:
    data = b"".join(frames(3)) + bytes(4096)
    parsed = journal.parse(data)
    assert parsed.records == [("api", payload(n)) for n in range(3)]
    assert parsed.used == sum(map(len, frames(3)))
    assert (parsed.damaged, parsed.stop) == ([], "frontier")


def test_a_frame_being_copied_is_left_for_a_later_read() -> None:
    whole = frames(2)
    data = whole[0] + whole[1][:20] + bytes(4096)  # the second copy is not finished
    parsed = journal.parse(data)
    assert [p for _, p in parsed.records] == [payload(0)]
    assert (parsed.used, parsed.damaged, parsed.stop) == (len(whole[0]), [], "frontier")


def test_a_torn_last_frame_of_a_finished_file_ends_it_without_a_dead_letter() -> None:
    # the writer was killed inside the copy: that request was never answered
    whole = frames(2)
    parsed = journal.parse(whole[0] + whole[1][:20] + bytes(4096), final=True)
    assert [p for _, p in parsed.records] == [payload(0)]
    assert (parsed.damaged, parsed.stop) == ([], "frontier")


def test_damaged_bytes_between_frames_are_handed_over_and_reading_resumes() -> None:
    whole = frames(2)
    garbage = b"\x01\x02 not a frame \xff" * 3
    data = whole[0] + garbage + whole[1]
    parsed = journal.parse(data, base=16)
    assert [p for _, p in parsed.records] == [payload(0), payload(1)]
    assert parsed.damaged == [(16 + len(whole[0]), garbage)]
    assert parsed.stop == "end"


def test_garbage_at_the_end_of_a_finished_file_is_damaged_not_dropped() -> None:
    whole = frames(1)
    garbage = b"\x05" * 40
    live = journal.parse(whole[0] + garbage)
    assert (live.damaged, live.used) == ([], len(whole[0]))  # the writer may still be at it
    final = journal.parse(whole[0] + garbage, final=True)
    assert final.damaged == [(len(whole[0]), garbage)]


def test_a_frame_cut_by_the_read_size_is_read_whole_next_time(tmp_path: Path) -> None:
    writer = journal.JournalWriter(tmp_path)
    for data in frames(3):
        writer.write(data)
    (path,) = journal.files(tmp_path)
    with journal.opened(path) as handle:
        assert handle is not None
        assert not handle.writer_gone
        first = handle.read(0, journal.HEADER_BYTES + len(frames(1)[0]) + 10)
        second = handle.read(first.end, 1 << 20)
    writer.close()
    assert (len(first.records), first.exhausted) == (1, False)
    assert ([p for _, p in second.records], second.exhausted) == ([payload(1), payload(2)], True)


_PAYLOADS = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=300)


@given(st.lists(_PAYLOADS.map(str.encode), max_size=12), st.data())
def test_any_cut_of_a_journal_reads_back_a_prefix_of_its_records(
    payloads: list[bytes], data: st.DataObject
) -> None:
    whole = b"".join(journal.frame(TAG, p) for p in payloads)
    cut = data.draw(st.integers(0, len(whole)))
    for tail in (b"", bytes(64)):
        parsed = journal.parse(whole[:cut] + tail)
        assert [p for _, p in parsed.records] == payloads[: len(parsed.records)]
        assert parsed.damaged == []
        complete = sum(1 for end in _frame_ends(payloads) if end <= cut)
        assert len(parsed.records) == complete


def _frame_ends(payloads: list[bytes]) -> list[int]:
    ends, total = [], 0
    for p in payloads:
        total += len(journal.frame(TAG, p))
        ends.append(total)
    return ends


# -- into the spool -----------------------------------------------------------------------------


def spool_at(tmp_path: Path, **config: object) -> Spool:
    return Spool(SpoolConfig(path=tmp_path / "spool.db", **config))  # type: ignore[arg-type]


def test_records_enter_the_spool_once_with_their_read_position(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    writer = journal.JournalWriter(spool.journal_dir)
    try:
        for data in frames(3):
            writer.write(data)
        assert spool.absorb_journal() == 3
        assert spool.absorb_journal() == 0
        writer.write(frames(4)[3])
        other = spool_at(tmp_path)  # a shipper in another process: same stored position
        assert other.absorb_journal() == 1
        other.close()
        records = spool.peek(10)
    finally:
        writer.close()
        spool.close()
    assert [r.sequence for r in records] == [0, 1, 2, 3]
    assert [r.document for r in records] == [
        request_record.expand_group(request_record.group([payload(n)]), spool._salt, "api", n, 1)[
            0
        ][2]
        for n in range(4)
    ]


def test_a_file_is_removed_only_after_its_writer_left_and_it_was_read(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    writer = journal.JournalWriter(spool.journal_dir, file_bytes=0)  # smallest allowed
    try:
        writer.write(frames(1)[0])
        spool.absorb_journal()
        (path,) = journal.files(spool.journal_dir)  # still being written
        writer.write(frames(2)[1])
        writer.close()
        written = journal.HEADER_BYTES + sum(map(len, frames(2)))
        assert path.stat().st_size == written  # cut to its written length at close
        assert journal.written(path) == written
        assert spool.absorb_journal() == 1
        assert journal.files(spool.journal_dir) == []
        assert spool.stats().journal_bytes == 0
    finally:
        spool.close()


def test_the_journal_backlog_counts_toward_the_spools_fill(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, capacity_bytes=100_000)
    writer = journal.JournalWriter(spool.journal_dir)
    try:
        for data in frames(5):
            writer.write(data)
        writer.publish()
        stats = spool.stats()
        assert stats.journal_bytes == sum(map(len, frames(5)))
        assert stats.fill_ratio == pytest.approx(stats.journal_bytes / 100_000)
        assert not stats.empty
        spool.absorb_journal()
        stats = spool.stats()
        assert (stats.journal_bytes, stats.pending_events) == (0, 5)
        spool.ack(spool.peek(10))
        assert spool.stats().empty
    finally:
        writer.close()
        spool.close()


def test_damaged_journal_bytes_go_to_the_dead_letter_table(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    writer = journal.JournalWriter(spool.journal_dir)
    try:
        writer.write(frames(1)[0] + b"\x01damaged\x02" + frames(2)[1])
        writer.close()
        assert spool.absorb_journal() == 2
        doc, reason = spool._db.execute("SELECT doc, reason FROM dead").fetchone()
    finally:
        spool.close()
    assert doc == b"\x01damaged\x02"
    assert "damaged request journal bytes" in reason


def test_a_forked_child_writes_its_own_file(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    writer = journal.JournalWriter(spool.journal_dir)
    writer.write(frames(1)[0])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        writer.write(frames(2)[1])
        writer.close()
        os._exit(0)
    os.waitpid(pid, 0)
    try:
        assert len(journal.files(spool.journal_dir)) == 2
        assert spool.absorb_journal() == 2
    finally:
        writer.close()
        spool.close()


def test_a_verified_frame_that_is_no_record_of_ours_is_a_dead_letter(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    writer = journal.JournalWriter(spool.journal_dir)
    try:
        writer.write(frames(1)[0] + journal.frame(TAG, b"\x00not a capture") + frames(2)[1])
        writer.close()
        assert spool.absorb_journal() == 3
        assert len(spool.peek(10)) == 2
        doc, reason = spool._db.execute("SELECT doc, reason FROM dead").fetchone()
    finally:
        spool.close()
    assert doc == b"\x00not a capture"
    assert "captured request record" in reason


def test_a_forked_child_leaves_the_parents_file_to_the_parent(tmp_path: Path) -> None:
    """The child drops its copy of the parent's descriptor: once the parent closes its file the
    shipper may finish it, though the child lives on."""
    spool = spool_at(tmp_path)
    writer = journal.JournalWriter(spool.journal_dir)
    writer.write(frames(1)[0])
    (parents,) = journal.files(spool.journal_dir)
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(write_end)
        os.write(ready_write, b"!")  # the fork hooks have run
        os.read(read_end, 1)  # alive until the parent has checked
        os._exit(0)
    os.close(read_end)
    os.read(ready_read, 1)
    os.close(ready_read)
    os.close(ready_write)
    try:
        writer.close()
        assert spool.absorb_journal() == 1
        assert not parents.exists()  # finished and removed: its lock was free
    finally:
        os.close(write_end)
        os.waitpid(pid, 0)
        spool.close()


# -- through the recorder -----------------------------------------------------------------------


_KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from audit.recording.recorder import Recorder
    from audit.recording.spool import FsyncPolicy, Spool, SpoolConfig
    from tests.unit.audit.recording.test_journal import payload

    spool = Spool(SpoolConfig(path=Path(sys.argv[1]), fsync=FsyncPolicy(sys.argv[2])))
    recorder = Recorder(spool)

    async def produce() -> None:
        for n in range(200):
            await recorder.arecord_compact("api", payload(n))
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(produce())
    """
)


@pytest.mark.parametrize("policy", [FsyncPolicy.INTERVAL, FsyncPolicy.BATCH])
def test_kill_9_after_the_acknowledgement_loses_nothing(
    tmp_path: Path, policy: FsyncPolicy
) -> None:
    path = tmp_path / "spool.db"
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(path), policy.value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    assert done.stdout.strip() == "acknowledged"
    spool = Spool(SpoolConfig(path=path))
    try:
        assert spool.absorb_journal() == 200
        records = spool.peek(500)
        assert journal.files(spool.journal_dir) == []  # its writer is gone: finished, removed
        assert spool.stats().dead_events == 0
    finally:
        spool.close()
    assert sorted(r.sequence for r in records) == list(range(200))


def test_a_full_spool_sends_request_records_through_its_backpressure(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, capacity_bytes=1000, backpressure=Backpressure.FAIL)
    spool.append([make_event(1, reason="x" * 2000)])  # over capacity: nothing more fits
    recorder = Recorder(spool)

    async def produce() -> None:
        while True:  # the recorder re-reads the fill at its next tick, then refuses
            await recorder.arecord_compact("api", payload(0))
            await asyncio.sleep(0.02)

    try:
        with pytest.raises(AuditSpoolFull):
            asyncio.run(asyncio.wait_for(produce(), LIVENESS_SECONDS))
    finally:
        recorder.close()
        spool.close()


def test_the_standalone_middleware_journals_each_request(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, fsync=FsyncPolicy.INTERVAL)
    recorder = Recorder(spool, service="other-app")

    class Thing:
        async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, tid: str):
            resp.media = {"id": tid}

    app = falcon.asgi.App(middleware=[AuditMiddleware(recorder, skip_paths=["/healthz"])])
    app.add_route("/things/{tid}", Thing())
    client = falcon.testing.TestClient(app)
    try:
        assert client.simulate_get("/things/7", headers={"User-Agent": "t/1"}).status_code == 200
        assert client.simulate_get("/healthz").status_code == 404
        assert spool.absorb_journal() == 1
        (record,) = spool.peek(10)
    finally:
        recorder.close()
        spool.close()
    event = json.loads(record.document)
    assert event["url"]["path"] == "/things/7"
    assert event["resource"] == {"id": "/things/{tid}", "type": "route"}
    assert (event["service"]["name"], event["user_agent"]["original"]) == ("other-app", "t/1")
    assert event["http"]["response"]["status_code"] == 200


@pytest.mark.parametrize("policy", [FsyncPolicy.INTERVAL, FsyncPolicy.BATCH])
def test_records_take_the_spool_path_when_no_journal_file_can_be_had(
    tmp_path: Path, policy: FsyncPolicy
) -> None:
    spool = spool_at(tmp_path, fsync=policy)
    spool.journal_dir.write_bytes(b"")  # a file where the journal directory should be
    recorder = Recorder(spool)

    async def produce() -> None:
        await asyncio.gather(*(recorder.arecord_compact("api", payload(n)) for n in range(3)))

    try:
        asyncio.run(produce())
        assert spool.absorb_journal() == 0
        records = spool.peek(10)
    finally:
        recorder.close()
        spool.close()
    assert sorted(r.sequence for r in records) == [0, 1, 2]


def test_the_journal_directory_and_files_are_private(tmp_path: Path) -> None:
    writer = journal.JournalWriter(tmp_path / "journal")
    writer.write(frames(1)[0])
    try:
        (path,) = journal.files(tmp_path / "journal")
        assert (tmp_path / "journal").stat().st_mode & 0o777 == 0o700
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        writer.close()


def test_reads_cross_steps_and_take_frames_larger_than_a_step(tmp_path: Path) -> None:
    writer = journal.JournalWriter(tmp_path)
    many = [journal.frame(TAG, b"r%05d" % n + b"x" * 200) for n in range(3000)]  # ~640 KB
    big = journal.frame(TAG, b"y" * (300 << 10))  # larger than one read step
    for data in [*many, big]:
        writer.write(data)
    (path,) = journal.files(tmp_path)
    try:
        with journal.opened(path) as handle:
            assert handle is not None
            chunk = handle.read(0, 4 << 20)
    finally:
        writer.close()
    assert len(chunk.records) == 3001
    assert chunk.records[-1][1] == b"y" * (300 << 10)
    assert (chunk.damaged, chunk.exhausted) == ([], True)
    assert chunk.end == journal.HEADER_BYTES + sum(map(len, many)) + len(big)


def test_closing_the_journal_at_shutdown_hands_over_a_whole_file(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, fsync=FsyncPolicy.INTERVAL)
    recorder = Recorder(spool)
    try:
        asyncio.run(recorder.arecord_compact("api", payload(0)))
        recorder.close_journal()
        (path,) = journal.files(spool.journal_dir)
        assert path.stat().st_size == journal.HEADER_BYTES + len(frames(1)[0])
        assert spool.absorb_journal() == 1
        assert journal.files(spool.journal_dir) == []
        asyncio.run(recorder.arecord_compact("api", payload(1)))  # a later record: a new file
        assert spool.absorb_journal() == 1
    finally:
        recorder.close()
        spool.close()


def _faults_writing(writer: journal.JournalWriter, data: list[bytes]) -> int:
    """Page faults this thread takes copying ``data`` into the journal."""
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for frame_ in data:
        writer.write(frame_)
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def test_pages_mapped_ahead_spare_the_writer_its_page_faults(tmp_path: Path) -> None:
    writer = journal.JournalWriter(tmp_path)
    mebibyte = [journal.frame(TAG, b"%06d" % n + b"x" * 1000) for n in range(1024)]
    try:
        writer.write(mebibyte[0])  # the file exists
        assert _faults_writing(writer, mebibyte) > 0  # fresh pages: the copy traps
        writer.map_ahead()
        assert _faults_writing(writer, mebibyte) == 0
        writer.sync()  # flushes the written pages only: those mapped ahead stay writable
        assert _faults_writing(writer, mebibyte[:512]) <= 2  # the page the sync cleaned
        writer.map_ahead()  # past the last step: the next MiB and more
        assert _faults_writing(writer, mebibyte) == 0
        (path,) = journal.files(tmp_path)
        with journal.opened(path) as handle:
            assert handle is not None
            chunk = handle.read(0, 8 << 20)
        assert len(chunk.records) == 1 + 3 * 1024 + 512  # the pages ahead read as unwritten
        assert (chunk.damaged, chunk.exhausted) == ([], True)
    finally:
        writer.close()
    frames_written = [mebibyte[0], *mebibyte * 3, *mebibyte[:512]]
    assert path.stat().st_size == journal.HEADER_BYTES + sum(map(len, frames_written))


def fill_checks(spool: Spool, clock: SteppedClock) -> list[float]:
    """When the spool's fill is read from now on (a recorder reads it through ``stats``), on
    the stepped clock."""
    checks: list[float] = []
    stats = spool.stats

    def counted() -> object:
        checks.append(clock.now)
        return stats()

    spool.stats = counted  # type: ignore[method-assign]
    return checks


def ticking(tmp_path: Path, capacity_bytes: int) -> tuple[Spool, SteppedClock, list[float]]:
    """A spool whose recorder's maintainer runs on a clock that moves only when told."""
    spool = spool_at(tmp_path, fsync=FsyncPolicy.INTERVAL, capacity_bytes=capacity_bytes)
    clock = SteppedClock()
    return spool, clock, fill_checks(spool, clock)


def ticks_pass(clock: SteppedClock, count: int) -> None:
    """Wait until the maintainer has ticked ``count`` more times (it reads the clock each tick)."""
    reads = clock.reads
    assert eventually(lambda: clock.reads >= reads + count)


def test_far_from_full_the_recorder_reads_the_fill_once_a_second(tmp_path: Path) -> None:
    spool, clock, checks = ticking(tmp_path, capacity_bytes=1 << 30)
    recorder = Recorder(spool, monotonic=clock)
    try:
        assert eventually(lambda: len(checks) == 1)  # the first check, at the first tick
        ticks_pass(clock, 20)  # not every 0.1 s tick: each check costs the serving thread
        clock.advance(0.99)
        ticks_pass(clock, 20)
        assert checks == [0.0]
        clock.advance(0.01)  # a second after the last check
        assert eventually(lambda: len(checks) == 2)
        assert checks == [0.0, 1.0]
    finally:
        recorder.close()
        spool.close()


def test_a_process_writing_an_eighth_of_the_room_left_checks_at_the_next_tick(
    tmp_path: Path,
) -> None:
    spool, clock, checks = ticking(tmp_path, capacity_bytes=80_000)
    recorder = Recorder(spool, monotonic=clock)
    try:
        assert eventually(lambda: len(checks) == 1)  # the first check, at the first tick
        ticks_pass(clock, 4)
        assert len(checks) == 1
        record = payload(0)
        for _ in range(10_000 // len(record) + 1):  # an eighth of the 80,000 bytes of room
            recorder.record_captured(record)
        assert eventually(lambda: len(checks) == 2)  # the clock stands still: not the second
    finally:
        recorder.close()
        spool.close()


def test_a_file_written_to_its_last_byte_is_synced_and_handed_over_whole(tmp_path: Path) -> None:
    writer = journal.JournalWriter(tmp_path, file_bytes=0)  # not a whole number of pages
    full = journal.frame(TAG, b"z" * (journal.MAX_BODY - len(TAG)))  # fills the file exactly
    try:
        writer.write(full)
        writer.map_ahead()
        writer.sync()  # the last page is partly past the file's end
        writer.write(frames(1)[0])  # a new file; the full one is retired
        writer.sync()  # and handed over: synced, cut to length, unlocked
        first, second = sorted(journal.files(tmp_path))  # names start with pid, then time
        assert first.stat().st_size == journal.HEADER_BYTES + len(full)
        assert journal.written(first) == journal.HEADER_BYTES + len(full)
        with journal.opened(first) as handle:
            assert handle is not None
            assert handle.writer_gone
            chunk = handle.read(0, 2 << 20)
        assert [payload_ for _, payload_ in chunk.records] == [full[12 + len(TAG) :]]
    finally:
        writer.close()
    assert second.stat().st_size == journal.HEADER_BYTES + len(frames(1)[0])
