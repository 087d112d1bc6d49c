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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from audit.errors import AuditError, AuditSpoolFull
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
from audit.recording.request_record import RequestRecord
from audit.recording.spool import Backpressure, FsyncPolicy, Spool

log = logging.getLogger("anbao.audit.recorder")

_MAX_GROUP: Final = 1024
_STOP: Final = object()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: What the spool takes: a full event, or the API middleware's request record.
Item = AuditEvent | RequestRecord
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
    ) -> None:
        self.spool = spool
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
        #: ``interval``: fsyncs the spool's WAL on a timer (commits do not).
        self._syncer: threading.Thread | None = None
        if spool.config.fsync is FsyncPolicy.INTERVAL:
            self._syncer = threading.Thread(
                target=self._sync_loop, name="audit-spool-sync", daemon=True
            )
            self._syncer.start()

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
        hand-off per event (costly under the GIL); the loop is held for
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

    def record_request(self, record: RequestRecord) -> asyncio.Future[int]:
        """Record the API middleware's request record from the event loop; the future resolves
        to its sequence number once it is in the spool per the fsync policy.

        Grouped with the loop's other records as in :meth:`arecord_event`. No sealing: a request
        record has no personal-data field. Its event is built when the shipper reads it.
        """
        if self._closed.is_set():
            raise AuditError("The audit recorder is closed.")
        return self._group(record)

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

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the threads."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(_STOP)
        self._writer.join(timeout)
        self._group_pool.shutdown(wait=True)
        if self._syncer is not None:
            self._syncer.join(timeout)

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

    def _sync_loop(self) -> None:
        """``interval``: fsync the spool every ``fsync_interval`` seconds, and once at close."""
        while not self._closed.wait(self.spool.config.fsync_interval):
            self._sync()
        self._sync()

    def _sync(self) -> None:
        with contextlib.suppress(AuditError):  # the next append reports a failing disk
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
