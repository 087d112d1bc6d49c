"""``audit.record(...)``: how every package writes an audit event (seal use, admin changes, ...).

A call returns only after the event is in the durable spool per its fsync policy, so an
acknowledged event survives ``kill -9`` (MLPS L3-CES1-14). A writer thread does group commit:
concurrent producers share one transaction and one fsync. Producers never lose an event
silently: a full spool or a failing disk raises (:class:`audit.errors.AuditSpoolFull`,
:class:`audit.errors.AuditSpoolError`) to the caller, who must fail the action it audits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import functools
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from audit.errors import AuditError, AuditSpoolError, AuditSpoolFull
from audit.ids import new_event_id
from audit.model import (
    DEFAULT_STREAM,
    AuditEvent,
    EventKind,
    HttpInfo,
    Outcome,
    PersonalData,
    ResourceRef,
    UserInfo,
)
from audit.ports import EventSealer
from audit.recording import journal, request_record
from audit.recording.journal_commit import JournalGroupCommit
from audit.recording.spool import Backpressure, CompactRecord, FsyncPolicy, Spool

log = logging.getLogger("anbao.audit.recorder")

_MAX_GROUP: Final = 1024
_STOP: Final = object()
#: How often the maintainer thread publishes the journal's length and looks at the bytes the
#: journal took since the last fill check (no system call, one GIL acquisition).
_TICK_SECONDS: Final = 0.1
#: A fill check (SQLite and every journal file's header) releases and retakes the GIL a dozen
#: times, each hand-off interrupting the serving thread. So it runs every second, and sooner (at
#: the next tick) once this process's journal has taken an eighth of the room left at the last
#: check, or while the journal is closed (to reopen it as soon as there is room).
_FILL_CHECK_SECONDS: Final = 1.0
_ROOM_SHARE: Final = 8
_REQUEST_TAG: Final = request_record.STREAM.encode() + b"\0"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: What the spool takes: a full event, or the API middleware's compact request record.
Item = AuditEvent | CompactRecord
Job = tuple[Item, "concurrent.futures.Future[Any]"]


class Recorder:
    """Builds events, seals their sensitive fields, and writes them to the spool."""

    def __init__(
        self,
        spool: Spool,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        new_id: Callable[[], str] = new_event_id,
        sealer: EventSealer | None = None,
        service: str = "anbao",
        group_delay: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spool = spool
        #: The maintainer's clock (fill checks, ``interval`` syncs); tests step it by hand.
        self._monotonic = monotonic
        #: How long the event loop gathers async events into one spool transaction: a little
        #: latency buys one transaction (and one fsync) per group, not per request (0: the
        #: events of one loop iteration).
        self._group_delay = group_delay
        self._clock = clock
        self._new_id = new_id
        self._sealer = sealer
        self._service = service
        self._queue: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._loop_batches: dict[
            asyncio.AbstractEventLoop, list[tuple[Item, asyncio.Future[Any]]]
        ] = {}
        #: Loops with a group commit in flight on the group thread (fsync off the event loop).
        self._in_flight: set[asyncio.AbstractEventLoop] = set()
        self._group_pool = concurrent.futures.ThreadPoolExecutor(1, "audit-group-commit")
        self._writer = threading.Thread(target=self._write_loop, name="audit-spool", daemon=True)
        self._writer.start()
        #: Compact request records go to the request journal (:mod:`audit.recording.journal`) while the
        #: spool has room; ``always`` keeps one spool transaction per event.
        self._journal: journal.JournalWriter | None = None
        if spool.config.fsync is not FsyncPolicy.ALWAYS:
            self._journal = journal.JournalWriter(spool.journal_dir)
        self._journal_groups: JournalGroupCommit | None = None
        if self._journal is not None and spool.config.fsync is not FsyncPolicy.INTERVAL:
            self._journal_groups = JournalGroupCommit(
                self._journal, self._group_pool, group_delay, fallback=self._spool_instead
            )
        #: Spool and journal below capacity (re-read periodically); never true without a journal.
        self._journal_open = False
        #: Records the API middleware's request record as captured on the request path
        #: (:func:`audit.recording.request_record.capture`); ``None`` if it is durable on return, else an
        #: awaitable that resolves once it is. Which function it is follows the journal's state
        #: (:meth:`_route_requests`), so the request path makes no checks of its own: under
        #: ``interval`` it is the journal's appender, one call that frames and copies.
        self.record_captured: Callable[[bytes], Awaitable[object] | None] = self._captured_to_spool
        self._route_requests(journal_open=self._journal is not None)
        self._stream_tags: dict[str, bytes] = {}
        #: When the last fill check ran, the journal's written bytes then, and how many more it
        #: may take before the next check is due regardless of the time (:meth:`_fill_check_due`).
        self._filled_at = float("-inf")
        self._written_at_check = 0
        self._room_allowance = 0
        self._maintainer: threading.Thread | None = None
        if self._journal is not None or spool.config.fsync is FsyncPolicy.INTERVAL:
            self._maintainer = threading.Thread(
                target=self._maintain_loop, name="audit-spool-sync", daemon=True
            )
            self._maintainer.start()

    @property
    def service(self) -> str:
        """``service.name`` of the events this recorder builds."""
        return self._service

    # -- building events -----------------------------------------------------------------------

    def event(
        self,
        action: str,
        outcome: Outcome | str,
        *,
        category: Sequence[str] = (),
        type: Sequence[str] = (),
        kind: EventKind = EventKind.EVENT,
        reason: str = "",
        user: UserInfo | None = None,
        org_path: str = "",
        source_ip: str = "",
        user_agent: str = "",
        trace_id: str = "",
        resource: ResourceRef | None = None,
        http: HttpInfo | None = None,
        duration_ns: int | None = None,
        labels: Mapping[str, str] | None = None,
        personal: PersonalData | None = None,
        stream: str = DEFAULT_STREAM,
        checked: bool = True,
    ) -> AuditEvent:
        """A new event with a fresh id and the current time (not yet recorded).

        ``checked=False`` skips schema validation (:meth:`AuditEvent.unchecked`): only for
        producers whose values are valid by construction, such as the API middleware.
        """
        build = AuditEvent if checked else AuditEvent.unchecked
        return build(
            id=self._new_id(),
            timestamp=self._clock(),
            action=action,
            outcome=Outcome(outcome),
            category=tuple(category),
            type=tuple(type),
            kind=kind,
            reason=reason,
            duration_ns=duration_ns,
            user=user or UserInfo(),
            org_path=org_path,
            source_ip=source_ip,
            user_agent=user_agent,
            service=self._service,
            trace_id=trace_id,
            http=http,
            resource=resource,
            labels=dict(labels or {}),
            personal=personal or PersonalData(),
            stream=stream,
        )

    # -- recording -----------------------------------------------------------------------------

    def submit(self, event: AuditEvent) -> concurrent.futures.Future[AuditEvent]:
        """Queue an event; the future resolves to the sequenced event once it is durable."""
        if self._closed.is_set():
            raise AuditError("The audit recorder is closed.")
        if self._sealer is not None:
            event = self._sealer.seal(event)
        return self._enqueue(event)

    def _enqueue(self, item: Item) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put((item, future))
        return future

    def record_event(self, event: AuditEvent) -> AuditEvent:
        """Record and wait until durable; raises if the spool refuses."""
        return self.submit(event).result()

    async def arecord_event(self, event: AuditEvent) -> AuditEvent:
        """Record from async code; resolves once the event is in the spool per the fsync policy.

        Group commit on the event loop: every event submitted within ``group_delay`` goes into
        one spool transaction, run by a callback scheduled with ``call_later``. No thread
        hand-off (which under the GIL costs milliseconds per request); the loop is held for
        that one short transaction (plus one fsync per group under ``always``/``batch``).
        Only when the spool is full and the policy is ``block`` is the wait moved to the
        writer thread, so the loop keeps serving.
        """
        if self._closed.is_set():
            raise AuditError("The audit recorder is closed.")
        if self._sealer is not None:
            event = self._sealer.seal(event)
        stored: AuditEvent = await self._group(event)
        return stored

    def record_compact(self, stream: str, payload: bytes) -> Awaitable[object] | None:
        """Record the API middleware's compact request record: ``None`` if it is durable per
        the fsync policy on return, else an awaitable that resolves once it is (call from the
        event loop). No sealing: the compact layout (:mod:`audit.recording.request_record`) has no
        personal-data field.

        While the spool has room the record goes to this process's request journal: under
        ``interval`` a copy into its memory-mapped file before returning (no await, no system
        call, no lock shared with other processes), under ``batch`` the records of one loop
        iteration share one ``msync`` off the loop. Otherwise (``always``, or a full spool, where
        backpressure applies) it is a spool transaction, grouped as in :meth:`arecord_event`.
        The shipper gives it its sequence number when it moves it into the spool.
        """
        if self._closed.is_set():
            raise AuditError("The audit recorder is closed.")
        writer = self._journal
        if writer is not None and self._journal_open:
            tag = self._stream_tags.get(stream)
            if tag is None:
                tag = self._stream_tags[stream] = stream.encode() + b"\0"
            if self._journal_groups is not None:
                return self._journal_groups.submit(journal.frame(tag, payload))
            try:
                writer.write(journal.frame(tag, payload))
            except AuditSpoolError:
                self._journal_failed()
            else:
                return None
        return self._group(CompactRecord(stream, payload))

    def _route_requests(self, *, journal_open: bool) -> None:
        """Point :attr:`record_captured` at the journal while it is open, else at the spool."""
        journal_open = journal_open and self._journal is not None
        if journal_open == self._journal_open:
            return
        self._journal_open = journal_open
        if self._journal is None or not journal_open:
            self.record_captured = self._captured_to_spool
        elif self._journal_groups is not None:
            self.record_captured = self._captured_to_group
        else:
            self.record_captured = self._journal.appender(
                request_record.STREAM, on_error=self._captured_after_failure
            )

    def _captured_to_spool(self, payload: bytes) -> Awaitable[object] | None:
        """The spool takes the record, in the compact form (the journal's is the captured)."""
        return self.record_compact(request_record.STREAM, request_record.from_capture(payload))

    def _captured_to_group(self, payload: bytes) -> Awaitable[object] | None:
        groups = self._journal_groups
        if groups is None:  # not routed here without groups
            return self._captured_to_spool(payload)
        return groups.submit(journal.frame(_REQUEST_TAG, payload))

    def _captured_after_failure(self, payload: bytes) -> Awaitable[object] | None:
        self._journal_failed()
        return self._captured_to_spool(payload)

    def _journal_failed(self) -> None:
        """The journal cannot be written (no file can be had): records take the spool path
        until the next fill check tries the journal again."""
        if self._journal_open:
            log.warning("audit request journal unavailable; recording through the spool")
        self._route_requests(journal_open=False)

    def _spool_instead(self, stream: str, payload: bytes, future: asyncio.Future[None]) -> None:
        """The batch journal's fallback: the record goes through the spool, ``future`` follows."""
        self._journal_failed()
        chained = self._group(CompactRecord(stream, request_record.compact_form(payload)))
        chained.add_done_callback(functools.partial(_copy_result, future))

    async def arecord_compact(self, stream: str, payload: bytes) -> None:
        """:meth:`record_compact`, awaited."""
        waiting = self.record_compact(stream, payload)
        if waiting is not None:
            await waiting

    def _group(self, item: Item) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        batch = self._loop_batches.get(loop)
        if batch is None:
            batch = self._loop_batches[loop] = []
            loop.call_later(self._group_delay, self._flush_loop_batch, loop)
        batch.append((item, future))
        return future

    def _flush_loop_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.spool.config.fsync is not FsyncPolicy.INTERVAL:
            self._flush_to_group_thread(loop)
            return
        jobs = self._loop_batches.pop(loop, [])
        try:
            stored = self.spool.append_items([item for item, _ in jobs], wait=False)
        except AuditSpoolFull as exc:
            if self.spool.config.backpressure is Backpressure.BLOCK:
                for item, future in jobs:
                    chained = asyncio.wrap_future(self._enqueue(item), loop=loop)
                    chained.add_done_callback(functools.partial(_copy_result, future))
                return
            _fail(jobs, exc)
            return
        except Exception as exc:  # noqa: BLE001 - every waiting request must learn of it
            _fail(jobs, exc)
            return
        for (_, future), result in zip(jobs, stored, strict=True):
            if not future.done():
                future.set_result(result)

    def _flush_to_group_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """``always``/``batch``: commit and fsync on the group thread, never on the loop.

        One group at a time per loop: while it is being committed (sqlite releases the GIL for
        the fsync) the loop keeps serving and gathers the next group, flushed when this one is
        done — so the group grows with the load and there is one fsync per group, each event
        acknowledged after it. The ``block`` backpressure wait also happens on that thread.
        """
        if loop in self._in_flight:
            return  # flushed by _group_done
        jobs = self._loop_batches.pop(loop, [])
        if not jobs:
            return
        self._in_flight.add(loop)
        done = loop.run_in_executor(self._group_pool, self._append_group, [i for i, _ in jobs])
        done.add_done_callback(functools.partial(self._group_done, loop, jobs))

    def _append_group(self, items: list[Item]) -> list[AuditEvent | int]:
        if self.spool.config.fsync is FsyncPolicy.ALWAYS:  # one transaction (fsync) per event
            return [self.spool.append_items([item])[0] for item in items]
        return self.spool.append_items(items)

    def _group_done(
        self,
        loop: asyncio.AbstractEventLoop,
        jobs: list[tuple[Item, asyncio.Future[Any]]],
        done: asyncio.Future[list[AuditEvent | int]],
    ) -> None:
        self._in_flight.discard(loop)
        exc = done.exception()
        if exc is not None:
            _fail(jobs, exc)
        else:
            for (_, future), event in zip(jobs, done.result(), strict=True):
                if not future.done():
                    future.set_result(event)
        if self._loop_batches.get(loop):
            self._flush_to_group_thread(loop)

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Record several events; returns once all are durable."""
        futures = [self.submit(e) for e in events]
        return [f.result() for f in futures]

    def record_external(
        self, events: Sequence[AuditEvent], *, cursor: tuple[str, str] | None = None
    ) -> list[AuditEvent]:
        """Record events whose ids come from another system (Keycloak) and may repeat.

        A repeated id is stored once and keeps its first sequence number; ``cursor`` (the
        producer's read position) is stored in the same transaction; see
        :meth:`audit.recording.spool.Spool.append`. Returns once all are durable.
        """
        if self._sealer is not None:
            events = [self._sealer.seal(e) for e in events]
        return self.spool.append(events, dedupe=True, cursor=cursor)

    def record(self, action: str, outcome: Outcome | str, **fields: object) -> AuditEvent:
        """Build (see :meth:`event`) and record one event; returns it with its sequence."""
        return self.record_event(self.event(action, outcome, **fields))  # type: ignore[arg-type]

    def close_journal(self) -> None:
        """Finish this process's request-journal file: synced, cut to its written length and
        unlocked, so the shipper can take it whole (at server shutdown; a later record starts a
        new file)."""
        if self._journal is not None:
            self._journal.close()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the threads."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(_STOP)
        self._writer.join(timeout)
        self._group_pool.shutdown(wait=True)
        if self._maintainer is not None:
            self._maintainer.join(timeout)
        self._route_requests(journal_open=False)
        if self._journal is not None:
            self._journal.close()

    # -- the writer thread ---------------------------------------------------------------------

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            jobs: list[Job] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stop = True
                else:
                    jobs.append(item)  # type: ignore[arg-type]
                if len(jobs) >= _MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if self.spool.config.fsync is FsyncPolicy.ALWAYS:
                for job in jobs:
                    self._commit([job])
            elif jobs:
                self._commit(jobs)

    def _commit(self, jobs: list[Job]) -> None:
        try:
            stored = self.spool.append_items([item for item, _ in jobs])
        except BaseException as exc:  # noqa: BLE001 - every waiting producer must learn of it
            for _, future in jobs:
                future.set_exception(exc)
            return
        for (_, future), event in zip(jobs, stored, strict=True):
            future.set_result(event)

    def _maintain_loop(self) -> None:
        """Re-read the spool's fill for the journal; under ``interval``, sync on the timer."""
        interval = self.spool.config.fsync
        period = self.spool.config.fsync_interval
        next_sync = self._monotonic() + period
        while not self._closed.wait(_TICK_SECONDS):
            if self._journal is not None:
                self._journal.publish()
                self._journal.map_ahead()
                if self._fill_check_due(self._journal):
                    self._check_fill()
            if interval is FsyncPolicy.INTERVAL and self._monotonic() >= next_sync:
                next_sync = self._monotonic() + period
                self._sync_all()
            elif self._journal is not None:
                self._journal.close_retired()
        if interval is FsyncPolicy.INTERVAL:
            self._sync_all()

    def _fill_check_due(self, writer: journal.JournalWriter) -> bool:
        return (
            not self._journal_open
            or self._monotonic() - self._filled_at >= _FILL_CHECK_SECONDS
            or writer.written_bytes() - self._written_at_check >= self._room_allowance
        )

    def _check_fill(self) -> None:
        if self._journal is None:
            return
        self._filled_at = self._monotonic()
        self._written_at_check = self._journal.written_bytes()
        self._room_allowance = 0  # until the spool answers: check again at the next tick
        try:
            stats = self.spool.stats()
        except AuditError:
            self._route_requests(journal_open=False)  # the spool reports the error to producers
            return
        room = stats.capacity_bytes - stats.pending_bytes - stats.journal_bytes
        self._room_allowance = max(0, room) // _ROOM_SHARE if stats.capacity_bytes else 1 << 62
        self._route_requests(journal_open=stats.fill_ratio < 1.0)

    def _sync_all(self) -> None:
        with contextlib.suppress(AuditError):
            if self._journal is not None:
                self._journal.sync()
            self.spool.checkpoint()


def _fail(jobs: Sequence[tuple[object, asyncio.Future[Any]]], exc: BaseException) -> None:
    for _, future in jobs:
        if not future.done():
            future.set_exception(exc)


def _copy_result(target: asyncio.Future[Any], source: asyncio.Future[Any]) -> None:
    if target.done():
        return
    if source.exception() is not None:
        target.set_exception(source.exception())  # type: ignore[arg-type]
    else:
        target.set_result(source.result())


_installed: Recorder | None = None


def install(recorder: Recorder | None) -> None:
    """Make ``recorder`` the process-wide one behind :func:`record` (done by ``anbao.app``)."""
    global _installed  # noqa: PLW0603 - one recorder per process, set by the composition root
    _installed = recorder


def current() -> Recorder:
    if _installed is None:
        raise AuditError("Audit recording is not configured in this process.")
    return _installed


def record(action: str, outcome: Outcome | str, **fields: object) -> AuditEvent:
    """Record one event with the process-wide recorder; raises rather than lose it."""
    return current().record(action, outcome, **fields)


async def arecord(action: str, outcome: Outcome | str, **fields: object) -> AuditEvent:
    """:func:`record` for async code: waits for the spool without blocking the event loop."""
    recorder = current()
    return await recorder.arecord_event(recorder.event(action, outcome, **fields))  # type: ignore[arg-type]
