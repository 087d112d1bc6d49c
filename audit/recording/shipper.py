"""The shipper: moves events from the spool to the store in bulk, at least once.

Exactly one shipper per spool file runs at a time, across all worker processes: it holds an
exclusive ``flock`` on ``<spool>.lock`` (released by the kernel when its process dies, so another
worker takes over). A batch leaves the spool only after the store confirmed it; since the store
writes idempotently by ``event.id`` (Elasticsearch ``_id``, SQLite primary key), a batch shipped
twice after a crash is stored once: at-least-once delivery, exactly-once in the store.

A round has a fixed cost (a transaction each in the spool, the store and the integrity log, two
of them fsynced), so the background shipper ships rounds back to back only while they come full (a backlog),
and after a partial round waits ``idle_wait`` for the next batch to gather: under load a round
carries the events of ``idle_wait`` rather than the few that arrived while the previous round
ran.

While the store is down the spool grows; the shipper retries with capped exponential backoff and
raises an alarm (log line, metric, an ``audit.spool.alarm`` self-event) once the spool passes
``alarm_ratio`` of its capacity — before it is full and producers start to block. When delivery
has failed for ``stall_seconds`` on end it reports a stall once (``on_stall``: the
``audit.shipping.stopped`` self-event), re-armed by the next delivery; events the store refuses
for good are reported too (``on_dead_letter``). Such self-events describe a store that is not
taking events, so they cannot wait for it: :meth:`Shipper.announce` hands them to the observers
(streaming detection) at once; their spooled copy reaches the store when it is back, and the
alert service folds the second sighting into the same alert (same detection key).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from audit.errors import AuditError, AuditStoreUnavailable
from audit.lease import FileLease
from audit.ports import AuditStore, DeliveryObserver, RawDocument
from audit.recording.spool import Spool, SpooledRecord, SpoolStats

log = logging.getLogger("anbao.audit.pipeline")

_BACKOFF_MAX: Final = 5.0


@dataclasses.dataclass(slots=True)
class PipelineCounters:
    """Totals since start, for ``/metrics`` (``anbao.app`` exports them)."""

    shipped: int = 0
    duplicates: int = 0
    dead: int = 0
    store_failures: int = 0
    alarms: int = 0
    holds_lock: bool = False


class Shipper:
    """Ships the spool to the store; ``start()`` runs it in a thread, ``drain()`` in the caller."""

    def __init__(
        self,
        spool: Spool,
        store: AuditStore,
        *,
        batch_size: int = 5000,
        batch_bytes: int = 8 << 20,
        idle_wait: float = 0.2,
        on_alarm: Callable[[SpoolStats], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        maintenance: Callable[[], None] | None = None,
        maintenance_every: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
        stall_seconds: float = 60.0,
        on_stall: Callable[[float, str], None] | None = None,
        on_dead_letter: Callable[[Sequence[tuple[str, str]]], None] | None = None,
        on_stored: Callable[[Sequence[SpooledRecord]], object] | None = None,
        observers: Sequence[DeliveryObserver] = (),
    ) -> None:
        self.spool = spool
        self.store = store
        self.counters = PipelineCounters()
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._idle_wait = idle_wait
        self._on_alarm = on_alarm
        self._sleep = sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease = FileLease(self.lock_path)
        self._alarmed = False
        self._maintenance = maintenance
        self._maintenance_every = maintenance_every
        self._monotonic = monotonic
        self._next_maintenance = 0.0
        self._stall_seconds = stall_seconds
        self._on_stall = on_stall
        self._on_dead_letter = on_dead_letter
        self._failing_since: float | None = None  # first failure of the current outage
        self._stalled = False
        #: Whether the last round took a whole batch (a backlog is likely left).
        self._full_round = False
        #: Called with the records the store holds now, before they leave the spool (tamper
        #: evidence logs their leaves here: ``IntegrityService.append_records``). It must be
        #: idempotent — after a crash the same records come again. If it raises, the batch stays
        #: spooled and is shipped again.
        self.on_stored = on_stored
        #: Told after each acknowledged batch (see :class:`audit.ports.DeliveryObserver`).
        self._observers: list[DeliveryObserver] = list(observers)

    # -- the single-shipper lock ---------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.spool.config.path.with_name(self.spool.config.path.name + ".lock")

    def try_lock(self) -> bool:
        """Become the shipper of this spool unless another process already is."""
        self.counters.holds_lock = self._lease.try_acquire()
        return self.counters.holds_lock

    def unlock(self) -> None:
        self._lease.release()
        self.counters.holds_lock = False

    # -- shipping ------------------------------------------------------------------------------

    def ship_once(self) -> int:
        """Ship one batch; returns how many records left the spool (0 when it is empty).

        Raises :class:`AuditStoreUnavailable` when the store fails; the batch stays spooled.
        """
        if not self.try_lock():
            return 0
        records = self.spool.peek(self._batch_size, self._batch_bytes)
        self._full_round = (
            len(records) >= self._batch_size
            or sum(r.size for r in records) >= self._batch_bytes // 2
        )
        if not records:
            return 0
        raw = [RawDocument(r.event_id, r.timestamp, r.document, r.parsed) for r in records]
        result = self.store.write_documents(raw)
        rejected = dict(result.rejected)
        if self.on_stored is not None:
            # Every sequence goes into the integrity log, refused ones too: a gap would stop the
            # stream's signed heads for good, while a logged-but-absent event is reported by
            # `audit verify` as deleted, and its copy waits in the dead-letter table.
            self.on_stored(records)
        if rejected:
            dead = [r for r in records if r.event_id in rejected]
            self.spool.bury(dead, [rejected[r.event_id] for r in dead])
            self.counters.dead += len(dead)
            log.error("audit store refused %d event(s) for good; kept in dead-letter", len(dead))
            records = [r for r in records if r.event_id not in rejected]
            if self._on_dead_letter is not None:
                self._report(
                    self._on_dead_letter, [(r.event_id, rejected[r.event_id]) for r in dead]
                )
        self.spool.ack(records)
        self.counters.shipped += result.created
        self.counters.duplicates += result.existing
        if self._observers and records:
            self._notify([d for d in raw if d.event_id not in rejected])
        return len(records) + len(rejected)

    def add_observer(self, observer: DeliveryObserver) -> None:
        """Register a :class:`audit.ports.DeliveryObserver` (e.g. streaming detection)."""
        self._observers.append(observer)

    def announce(self, documents: Sequence[RawDocument]) -> None:
        """Hand the shipper's own self-events to the observers now, ahead of the store (see the
        module doc): detection must not wait for the store whose failure they report."""
        self._notify(documents)

    def _report(self, hook: Callable[..., None], *args: object) -> None:
        try:
            hook(*args)
        except AuditError:  # a full spool: the log line and the metrics still say it
            log.exception("could not record an audit shipping self-event")

    def _delivery_failed(self, code: str) -> None:
        """Count the outage; past ``stall_seconds`` report the stall once."""
        now = self._monotonic()
        if self._failing_since is None:
            self._failing_since = now
        stalled_for = now - self._failing_since
        if stalled_for >= self._stall_seconds and not self._stalled:
            self._stalled = True
            log.error("audit shipping stopped for %.0fs (%s)", stalled_for, code)
            if self._on_stall is not None:
                self._report(self._on_stall, stalled_for, code)

    def _delivered(self) -> None:
        self._failing_since = None
        self._stalled = False

    def _notify(self, documents: Sequence[RawDocument]) -> None:
        for observer in self._observers:
            try:
                observer.delivered(documents)
            except Exception:  # an observer never stops audit delivery
                log.exception("audit delivery observer %s failed", type(observer).__name__)

    def drain(self, timeout: float = 60.0) -> bool:
        """Ship until the spool is empty (True) or ``timeout`` passes (False); for CLI and tests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.ship_once() == 0 and self.spool.stats().empty:
                    return True
            except AuditStoreUnavailable:
                self._sleep(0.5)
        return False

    def check_alarm(self) -> SpoolStats:
        """Raise the alarm once when the fill ratio passes the threshold; re-arm below it."""
        stats = self.spool.stats()
        threshold = self.spool.config.alarm_ratio
        if stats.fill_ratio >= threshold and not self._alarmed:
            self._alarmed = True
            self.counters.alarms += 1
            log.warning(
                "audit spool %.0f%% full (%d events pending): the audit store is not keeping up",
                stats.fill_ratio * 100,
                stats.pending_events,
            )
            if self._on_alarm is not None:
                try:
                    self._on_alarm(stats)
                except AuditError:
                    log.exception("could not record the spool alarm event")
        elif stats.fill_ratio < threshold * 0.9:
            self._alarmed = False
        return stats

    def maybe_maintain(self) -> bool:
        """Run the periodic maintenance (retention) when due; only the lock holder calls it."""
        now = self._monotonic()
        if self._maintenance is None or now < self._next_maintenance:
            return False
        self._next_maintenance = now + self._maintenance_every
        try:
            self._maintenance()
        except Exception:
            log.exception("audit store maintenance (retention) failed")
        return True

    # -- the background thread -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="audit-shipper", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.unlock()

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                if not self.try_lock():
                    self._stop.wait(1.0)
                    continue
                shipped = self.ship_once()
                backoff = 0.1
                self._delivered()
                self.check_alarm()
                if shipped == 0:
                    self.maybe_maintain()
            except Exception as exc:  # noqa: BLE001 - the shipper thread must never die
                self.counters.store_failures += 1
                code = exc.code if isinstance(exc, AuditError) else type(exc).__name__
                log.warning("audit shipping failed (%s); retrying in %.1fs", code, backoff)
                self._delivery_failed(code)
                with contextlib.suppress(Exception):
                    self.check_alarm()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            if not self._full_round:  # caught up: let the next batch gather (module doc)
                self._stop.wait(self._idle_wait)


def spool_lock_holder(spool_path: Path) -> bool:
    """True when some process holds the shipper lock of ``spool_path`` (for health reports)."""
    lock = spool_path.with_name(spool_path.name + ".lock")
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


__all__ = ["PipelineCounters", "Shipper", "SpooledRecord", "spool_lock_holder"]
