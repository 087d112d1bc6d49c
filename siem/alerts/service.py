"""The alert service: detections in (it is the engines' :class:`siem.ports.DetectionSink`), alerts out.

Grouping and suppression: a detection joins the newest alert of the same rule and entity whose
last event lies within the suppression window before the detection's first event (event time,
not arrival time, so both engines group alike); otherwise it opens a new alert whose id is the
detection key. A detection already folded in (same key: the other engine, or a scheduled
overlap) changes nothing. Writes use the store's optimistic concurrency and retry on conflict,
so a triage change made at the same moment is never lost.

New alerts are handed to hooks (notifications, response planning) on a background thread:
``emit`` only writes to the store, as the port asks (detection must not slow audit delivery,
GB/T 22239-2019 §8.1.4.3, L3-CES1-15).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Final

from siem.alerts.errors import AlertNotFound, AlertVersionConflict, InvalidAlertInput
from siem.alerts.model import (
    MAX_NOTES,
    Alert,
    AlertFilter,
    AlertPage,
    AlertStatus,
    CloseReason,
    Delivery,
    Note,
    check_note,
    check_tags,
    check_user,
    group_key,
    merge,
    new_alert,
    transition,
    visible,
)
from siem.alerts.ports import AlertStore
from siem.model import Detection

log = logging.getLogger("siem.alerts")

_RETRIES: Final = 8
#: Called for every new alert with the detection that opened it.
NewAlertHook = Callable[[Alert, Detection], object]
#: Called after each triage change: (action, alert after the change, actor).
TriageHook = Callable[[str, Alert, str], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """A triage update; ``None`` leaves a field as it is (``assignee=""`` unassigns)."""

    status: AlertStatus | None = None
    reason: CloseReason | None = None
    assignee: str | None = None
    tags: tuple[str, ...] | None = None
    #: The version the caller last read (HTTP ``If-Match``); ``None``: re-read and re-apply.
    expected_version: str | None = None


class BackgroundHooks:
    """Runs new-alert hooks on one daemon thread, so ``emit`` returns at once.

    The thread starts on first use and again after :meth:`close` (an ASGI lifespan may close
    parts that live on, as test clients do per request).
    """

    def __init__(self, hooks: Sequence[NewAlertHook]) -> None:
        self._hooks = tuple(hooks)
        self._queue: queue.Queue[tuple[Alert, Detection] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, alert: Alert, detection: Detection) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="siem-alert-hooks", daemon=True
                )
                self._thread.start()
            self._queue.put((alert, detection))

    def drain(self) -> None:
        """Wait until every queued alert went through the hooks (tests, shutdown)."""
        self._queue.join()

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(None)
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                for hook in self._hooks:
                    try:
                        hook(*item)
                    except Exception:  # a failing channel must not stop the others
                        log.exception("alert hook failed for alert %s", item[0].id)
            finally:
                self._queue.task_done()


class AlertRecords:
    """Reads and writes of one alert on a store, without grouping or hooks.

    The new-alert hooks need these (notifications record deliveries, response actions look
    alerts up) and the service runs the hooks: built first, they let each part be built whole.
    """

    def __init__(self, store: AlertStore, *, clock: Callable[[], dt.datetime]) -> None:
        self.store = store
        self._clock = clock

    def get(self, alert_id: str, scope: str = "/") -> Alert:
        """One alert in the reader's org ``scope`` (``/``: any); outside it is not found."""
        alert = self.store.get(alert_id)
        if alert is None or not visible(scope, alert):
            raise AlertNotFound(f"no alert {alert_id[:64]!r}")
        return alert

    def record_delivery(self, alert_id: str, delivery: Delivery) -> Alert:
        """Keep a channel's delivery state on the alert (latest per channel)."""

        def apply(alert: Alert, now: dt.datetime) -> Alert:
            del now
            kept = tuple(d for d in alert.deliveries if d.channel != delivery.channel)
            return alert.evolve(deliveries=(*kept, delivery))

        return self.write(alert_id, apply, None)

    def write(
        self,
        alert_id: str,
        apply: Callable[[Alert, dt.datetime], Alert],
        expected_version: str | None,
        scope: str = "/",
    ) -> Alert:
        """Replace the alert with ``apply(alert, now)``, re-reading on a concurrent write unless
        the caller pinned the version it read."""
        for _ in range(_RETRIES):
            current = self.get(alert_id, scope)
            if expected_version is not None and current.version != expected_version:
                raise AlertVersionConflict("the alert changed since it was read")
            try:
                return self.store.replace(apply(current, self._clock()))
            except AlertVersionConflict:
                if expected_version is not None:
                    raise
        raise AlertVersionConflict("the alert kept changing; try again")


class AlertService:
    """Grouping, suppression and triage over one :class:`AlertStore`."""

    def __init__(
        self,
        store: AlertStore,
        *,
        clock: Callable[[], dt.datetime],
        window: dt.timedelta,
        on_new: NewAlertHook | None = None,
        on_change: TriageHook | None = None,
    ) -> None:
        self.store = store
        self._records = AlertRecords(store, clock=clock)
        self._clock = clock
        self._window = window
        self._on_new = on_new
        self._on_change = on_change
        self._lock = threading.Lock()

    # -- DetectionSink -------------------------------------------------------------------------

    def emit(self, detections: Sequence[Detection]) -> None:
        """Take a batch from an engine; a failure is logged per detection, never raised."""
        for detection in detections:
            try:
                self.ingest(detection)
            except Exception:
                log.exception("could not store detection of rule %s", detection.rule_id)

    def ingest(self, detection: Detection) -> Alert | None:
        """Group one detection; returns the alert it created or changed, ``None`` if a repeat."""
        with self._lock:
            for _ in range(_RETRIES):
                try:
                    return self._ingest_once(detection)
                except AlertVersionConflict:
                    continue
        raise AlertVersionConflict("the alert kept changing while grouping a detection")

    def _ingest_once(self, detection: Detection) -> Alert | None:
        if self.store.get(detection.key) is not None:
            return None
        since = detection.first_event_time - self._window
        current = self.store.latest_in_group(group_key(detection.rule_id, detection.entity), since)
        now = self._clock()
        if current is not None and detection.key in current.detection_keys:
            return None
        if current is not None and current.status is not AlertStatus.CLOSED:
            return self.store.replace(merge(current, detection, now))
        created = self.store.create(new_alert(detection, now))
        if self._on_new is not None:
            self._on_new(created, detection)
        return created

    # -- triage --------------------------------------------------------------------------------

    def get(self, alert_id: str, scope: str = "/") -> Alert:
        """One alert in the reader's org ``scope`` (``/``: any); outside it is not found."""
        return self._records.get(alert_id, scope)

    def list(self, criteria: AlertFilter) -> AlertPage:
        if not 1 <= criteria.limit <= 500:  # noqa: PLR2004 - documented page bound
            raise InvalidAlertInput("must be between 1 and 500", field="limit")
        if criteria.offset < 0 or criteria.offset > 10_000:  # noqa: PLR2004
            raise InvalidAlertInput("must be between 0 and 10000", field="offset")
        return self.store.search(criteria)

    def update(self, alert_id: str, actor: str, change: Change, scope: str = "/") -> Alert:
        """Apply a triage change (validated), retrying on a concurrent write unless pinned."""
        check_user(actor, "actor")
        if change.assignee:
            check_user(change.assignee, "assignee")
        tags = check_tags(change.tags) if change.tags is not None else None

        def apply(alert: Alert, now: dt.datetime) -> Alert:
            if change.status is not None:
                alert = transition(alert, change.status, change.reason, now)
            elif change.reason is not None:
                raise InvalidAlertInput("a reason goes with status=closed", field="reason")
            if change.assignee is not None:
                alert = alert.evolve(assignee=change.assignee, updated_at=now)
            if tags is not None:
                alert = alert.evolve(tags=tags, updated_at=now)
            return alert

        updated = self._records.write(alert_id, apply, change.expected_version, scope)
        self._changed("update", updated, actor)
        return updated

    def add_note(self, alert_id: str, author: str, text: str, scope: str = "/") -> Alert:
        """Append a note (author and time recorded; notes are never edited or removed)."""
        check_user(author, "author")
        check_note(text)

        def apply(alert: Alert, now: dt.datetime) -> Alert:
            if len(alert.notes) >= MAX_NOTES:
                raise InvalidAlertInput(f"at most {MAX_NOTES} notes per alert", field="text")
            return alert.evolve(notes=(*alert.notes, Note(author, now, text)), updated_at=now)

        updated = self._records.write(alert_id, apply, None, scope)
        self._changed("note", updated, author)
        return updated

    def record_delivery(self, alert_id: str, delivery: Delivery) -> Alert:
        """Keep a channel's delivery state on the alert (latest per channel)."""
        return self._records.record_delivery(alert_id, delivery)

    def _changed(self, action: str, alert: Alert, actor: str) -> None:
        if self._on_change is not None:
            self._on_change(action, alert, actor)


class QueuedSink:
    """A :class:`siem.ports.DetectionSink` that hands batches to a worker thread.

    For the streaming engine on the audit shipper's thread: ``emit`` never waits for the alert
    store (an Elasticsearch write refreshes the index). The queue is bounded; when it is full the
    batch is dropped, counted in ``dropped`` and logged (audit delivery outranks alerting,
    L3-CES1-15; the scheduled engine covers the same rules from the store).
    """

    def __init__(self, target: AlertService, *, max_batches: int = 10_000) -> None:
        self._target = target
        self._queue: queue.Queue[Sequence[Detection]] = queue.Queue(max_batches)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def emit(self, detections: Sequence[Detection]) -> None:
        if not detections:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="siem-alerts", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(tuple(detections))
        except queue.Full:
            self.dropped += len(detections)
            log.error("alert queue full: %d detection(s) dropped", len(detections))  # noqa: TRY400 - no traceback wanted

    def drain(self) -> None:
        """Wait until every queued batch is stored."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                self._target.emit(batch)
            finally:
                self._queue.task_done()
