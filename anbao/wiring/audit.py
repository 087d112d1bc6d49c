"""Wires the audit trail into the service: spool, recorder, shipper, metrics, Keycloak events.

Every worker process opens the same spool file and records into it; the shipper thread runs in
each worker but only the one holding the spool's file lock ships (see :mod:`audit.recording.shipper`).
``audit`` and ``iam`` may not import each other, so the adapter that turns Keycloak's ECS events
(``iam.events.service.EventPuller`` -> ``iam.events.ports.EventSink``) into recorded audit events lives
here, in the composition root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import ipaddress
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from anbao.settings import AuditStoreKind, Environment, Settings, SettingsError
from anbao.web.metrics import Metrics
from anbao.wiring.elasticsearch import es_connection
from anbao.wiring.singleton import SingletonJob, job_lease
from audit.errors import AuditEventInvalid
from audit.integrity.setup import build_field_cipher
from audit.model import (
    AuditEvent,
    EventKind,
    Outcome,
    ResourceRef,
    UserInfo,
    event_from_document,
    format_timestamp,
)
from audit.ports import AuditStore, DeliveryObserver, EventSealer, RawDocument
from audit.recording.middleware import RequestAuditor
from audit.recording.recorder import Recorder, install
from audit.recording.shipper import Shipper
from audit.recording.spool import (
    Spool,
    SpoolConfig,
    SpooledRecord,
    SpoolStats,
    leftover_request_journal,
)
from audit.stores.elasticsearch import ElasticsearchAuditStore, check_retention
from audit.stores.sqlite import SqliteAuditStore
from iam.events.model import Cursor
from iam.realm.errors import EventCursorCorrupt

log = logging.getLogger("anbao.audit")

#: Retention runs hourly (the shipper's maintenance period, and the clustered job's interval).
RETENTION_EVERY_SECONDS = 3600.0


def spool_config(settings: Settings) -> SpoolConfig:
    a = settings.audit
    return SpoolConfig(
        path=Path(a.spool_path),
        fsync=a.spool_fsync,
        capacity_bytes=a.spool_capacity_bytes,
        alarm_ratio=a.spool_alarm_ratio,
        backpressure=a.backpressure,
        block_timeout=a.block_timeout_seconds,
        fsync_interval=a.spool_fsync_interval_seconds,
        node_id=settings.cluster.node_id,
    )


@dataclasses.dataclass(slots=True)
class AuditRuntime:
    """The process's recorder and shipper; started and stopped with the ASGI lifespan."""

    recorder: Recorder
    shipper: Shipper
    #: Ship from a child process (``audit.ship_in_subprocess``) rather than a worker thread.
    ship_in_subprocess: bool = False
    _child: subprocess.Popen[bytes] | None = None

    def request_auditor(self, settings: Settings) -> RequestAuditor:
        """Audits each API request (``audit.record_requests``), called by the request context
        middleware (:class:`anbao.web.middleware.RequestContextMiddleware`)."""
        skip = [p.strip() for p in settings.audit.skip_paths.split(",") if p.strip()]
        return RequestAuditor(self.recorder, skip_paths=skip)

    def start(self) -> None:
        install(self.recorder)
        if self.ship_in_subprocess:
            if self._child is None or self._child.poll() is not None:
                # the child reads its settings from the environment, as anbao.asgi does
                env = {**os.environ, _PARENT_ENV: str(os.getpid())}  # noqa: TID251
                self._child = subprocess.Popen(
                    [sys.executable, "-c", "from anbao.wiring.audit import ship_main; ship_main()"],
                    env=env,
                )
        else:
            self.shipper.start()

    def stop_shipping(self) -> None:
        """ASGI shutdown: stop the shipper (the spool keeps what is left for the next start)."""
        self.shipper.stop()
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)

    def stop(self) -> None:
        """Close everything (end of process, tests)."""
        self.stop_shipping()
        self.recorder.close()
        self.recorder.spool.close()
        install(None)


def build_audit_store(settings: Settings) -> AuditStore:
    if settings.audit.store is AuditStoreKind.ELASTICSEARCH:
        return ElasticsearchAuditStore(
            es_connection(settings),
            prefix=settings.audit.index_prefix,
            retention_days=settings.audit.retention_days,
            development=settings.environment is Environment.DEVELOPMENT,
        )
    return SqliteAuditStore(settings.audit.sqlite_path)


def build_audit_runtime(
    settings: Settings,
    store: AuditStore,
    *,
    sealer: EventSealer | None = None,
    on_stored: Callable[[Sequence[SpooledRecord]], object] | None = None,
    observers: Sequence[DeliveryObserver] = (),
) -> AuditRuntime:
    """Spool + recorder + shipper from settings, the shipper with its delivery hooks."""
    recorder = build_recorder(settings, sealer=sealer)
    return with_shipper(settings, recorder, store, on_stored=on_stored, observers=observers)


def build_recorder(settings: Settings, *, sealer: EventSealer | None = None) -> Recorder:
    """Spool + recorder from settings; refuses a retention under the legal minimum.

    Sensitive fields are sealed (SM4-GCM, ``audit.sensitive.masking.FieldCipher``) before the spool, with
    the keyring of ``audit_integrity.field_keyring_file`` unless a ``sealer`` is given.
    """
    development = settings.environment is Environment.DEVELOPMENT
    check_retention(settings.audit.retention_days, development=development)
    if sealer is None:
        sealer = build_field_cipher(
            settings.audit_integrity.field_keyring_file, create_missing=development
        )
    check_request_journal(settings)
    return Recorder(Spool(spool_config(settings)), sealer=sealer)


def check_request_journal(settings: Settings) -> None:
    """Refuse, in production, a spool beside which a release before issue 18 left request-journal
    files (acknowledged records this release does not read); elsewhere say so in the log.

    The upgrade is: stop the old release cleanly once its spool is empty (``anbao_audit_spool_
    pending_events`` 0), then start this one. On a development machine such files are the
    leftovers of killed test services and must not stop the next start.
    """
    left = leftover_request_journal(Path(settings.audit.spool_path).resolve())
    if left is None:
        return
    message = (
        f"request-journal files of a release before issue 18 are in {left}; this release does "
        "not ship them: run that release until its spool is empty, then start this one"
    )
    if settings.environment is not Environment.DEVELOPMENT:
        raise SettingsError("audit.spool_path", message)
    log.error("audit: %s", message)


def with_shipper(
    settings: Settings,
    recorder: Recorder,
    store: AuditStore,
    *,
    on_stored: Callable[[Sequence[SpooledRecord]], object] | None = None,
    observers: Sequence[DeliveryObserver] = (),
) -> AuditRuntime:
    """The runtime of ``recorder``: its shipper to ``store``, built last, with the delivery hooks
    of the features that are built after the recorder they record with (tamper-evidence leaves
    as ``on_stored``, streaming detection among the ``observers``)."""
    spool = recorder.spool
    shipper: Shipper | None = None

    def self_event(action: str, reason: str, labels: Mapping[str, str] | None = None) -> None:
        """Record one of the shipper's self-events (stream ``system``) and announce it to the
        detection engines at once: it reports a store that is not taking events."""
        event = recorder.record(
            action,
            Outcome.UNKNOWN,
            kind=EventKind.ALERT,
            category=("configuration",),
            type=("info",),
            reason=reason,
            labels=dict(labels or {}),
            stream="system",
        )
        if shipper is not None:
            shipper.announce([raw_document(event)])

    def alarm(stats: SpoolStats) -> None:
        self_event(
            "audit.spool.alarm",
            f"audit spool {stats.fill_ratio:.0%} full, {stats.pending_events} events "
            "waiting for the audit store",
        )

    def stall(seconds: float, code: str) -> None:
        self_event(
            "audit.shipping.stopped",
            f"audit delivery to the store failing for {seconds:.0f}s ({code})",
            {"error_code": code[:128]},
        )

    def dead_letter(refused: Sequence[tuple[str, str]]) -> None:
        self_event(
            "audit.shipping.dead_letter",
            f"the audit store refused {len(refused)} event(s) for good; kept in dead-letter",
            {"event_ids": ",".join(i for i, _ in refused[:20])},
        )

    shipper = Shipper(
        spool,
        store,
        on_alarm=alarm,
        # Clustered, retention is a deployment's singleton job (retention_job), not each node's.
        maintenance=None if settings.cluster.clustered else retention_task(settings, store),
        stall_seconds=settings.audit.shipping_stall_seconds,
        on_stall=stall,
        on_dead_letter=dead_letter,
        on_stored=on_stored,
        observers=observers,
    )
    return AuditRuntime(recorder, shipper, ship_in_subprocess=settings.audit.ship_in_subprocess)


def raw_document(event: AuditEvent) -> RawDocument:
    """An event as the shipper delivers it (canonical JSON), for :meth:`Shipper.announce`."""
    return RawDocument(event.id, format_timestamp(event.timestamp), event.canonical_bytes())


@contextlib.contextmanager
def spool_recorder(settings: Settings) -> Iterator[Recorder]:
    """A recorder on the service's spool for a one-shot operator command (``anbao audit
    verify``, ``anbao iam bootstrap``, ``anbao iam events pull``): it only appends; the running service's shipper ships what it wrote."""
    spool = Spool(spool_config(settings))
    recorder = Recorder(spool)
    try:
        yield recorder
    finally:
        recorder.close()
        spool.close()


_PARENT_ENV = "ANBAO_AUDIT_SHIPPER_PARENT"


def ship_main() -> None:
    """Entry point of the shipper child process (``audit.ship_in_subprocess``).

    Builds the audit runtime with the serving app's delivery hooks (tamper-evidence leaves,
    SIEM streaming; :func:`anbao.wiring.delivery.shipping_runtime`), not the app, then runs only
    the shipper until SIGTERM or until its parent worker is gone. Durability is unchanged: the
    spool is the hand-off, and the shipper lock elects one shipper among all processes.
    """
    import time  # noqa: PLC0415

    from anbao import logs  # noqa: PLC0415 - the child only
    from anbao.wiring.delivery import shipping_runtime  # noqa: PLC0415 - it imports this module

    environ = os.environ  # noqa: TID251 - an entry point, like anbao.asgi
    parent = int(environ.get(_PARENT_ENV, "0") or 0)
    settings = Settings.load(environ)
    logs.configure(settings.server.log_level)
    os.nice(settings.audit.shipper_nice)  # the serving parent gets the CPU first under a burst
    store = build_audit_store(settings)
    runtime, close = shipping_runtime(settings, store, time.time)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    install(runtime.recorder)
    runtime.shipper.start()
    while not stop.wait(0.5):
        if parent and os.getppid() != parent:  # the worker died: a new one starts its own child
            break
    runtime.shipper.stop()
    runtime.recorder.close()
    runtime.recorder.spool.close()
    close()
    store.close()


def retention_task(settings: Settings, store: AuditStore) -> Callable[[], None] | None:
    """Hourly retention, run by the shipping worker: Elasticsearch deletes expired monthly indices
    itself where it has ILM (then this is a no-op), else Anbao deletes them; SQLite deletes rows."""
    days = settings.audit.retention_days

    def run() -> None:
        now = dt.datetime.now(dt.UTC)
        if isinstance(store, ElasticsearchAuditStore):
            deleted = store.enforce_retention(now)
            if deleted:
                log.warning("audit retention: deleted expired indices %s", ", ".join(deleted))
        elif isinstance(store, SqliteAuditStore):
            count = store.delete_before(now - dt.timedelta(days=days))
            if count:
                log.warning("audit retention: deleted %d events older than %d days", count, days)

    return run if isinstance(store, (ElasticsearchAuditStore, SqliteAuditStore)) else None


def retention_job(settings: Settings, store: AuditStore) -> SingletonJob | None:
    """Clustered: retention, hourly, once per deployment (the shipper's lock is per node).
    On one machine the shipping worker runs it (``Shipper`` maintenance): None here."""
    task = retention_task(settings, store)
    if task is None or not settings.cluster.clustered:
        return None
    return SingletonJob(
        "audit-retention", task, job_lease(settings, "audit-retention"), RETENTION_EVERY_SECONDS
    )


class AuditCollector(Collector):
    """Spool and shipper figures for ``/metrics`` (read at scrape time)."""

    def __init__(self, runtime: AuditRuntime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        stats = self._runtime.recorder.spool.stats()
        counters = self._runtime.shipper.counters
        ratio = self._runtime.recorder.spool.config.alarm_ratio
        yield GaugeMetricFamily(
            "anbao_audit_spool_pending_events", "Events in the spool.", stats.pending_events
        )
        yield GaugeMetricFamily(
            "anbao_audit_spool_fill_ratio", "Spool bytes / capacity.", stats.fill_ratio
        )
        yield GaugeMetricFamily(
            "anbao_audit_spool_alarm",
            "1 while the spool is above its alarm threshold.",
            1.0 if stats.fill_ratio >= ratio else 0.0,
        )
        yield GaugeMetricFamily(
            "anbao_audit_dead_events", "Events the store refused (kept).", stats.dead_events
        )
        yield CounterMetricFamily(
            "anbao_audit_shipped", "Events this process shipped.", counters.shipped
        )
        yield CounterMetricFamily(
            "anbao_audit_store_failures", "Failed bulk writes.", counters.store_failures
        )


def register_metrics(metrics: Metrics, runtime: AuditRuntime) -> None:
    metrics.registry.register(AuditCollector(runtime))


#: Keycloak event types (``labels.keycloak_type``) that the rule pack knows by Anbao's own
#: action names (siem/rules/privilege.yml): a refresh names the refresh token's id (jti), so a
#: reused refresh token shows as two refreshes of one jti; a removed credential names its type.
_REFRESH_TYPES = frozenset({"REFRESH_TOKEN", "REFRESH_TOKEN_ERROR"})
_REMOVE_CREDENTIAL_TYPES = frozenset(
    {"REMOVE_CREDENTIAL", "REMOVE_CREDENTIAL_ERROR", "REMOVE_TOTP", "REMOVE_TOTP_ERROR"}
)
#: An administrator removing a user's credential (admin event ``USER`` ``ACTION``/``DELETE``).
_CREDENTIAL_PATH = re.compile(r"users/[^/]+/credentials/[^/]+")


class RecorderEventSink:
    """``iam.events.ports.EventJournal`` backed by the audit recorder (Keycloak login and admin events).

    Keycloak's ids become ``event.id``; a page delivered again is stored once
    (:meth:`audit.recording.recorder.Recorder.record_external`), and each stream's read position is kept
    in the spool itself, written in the same transaction as the page (no gap, no repeat after a
    crash). What the audit schema has no field for (realm, client, Keycloak's own type) goes to
    ``labels``; the fields the rule pack reads are filled as ``docs/siem-rules.md`` lists them.
    Secrets were already redacted by iam.
    """

    def __init__(self, recorder: Recorder, *, realm: str = "", stream: str = "iam") -> None:
        self._recorder = recorder
        self._realm = realm
        self._stream = stream

    @property
    def recorder(self) -> Recorder:
        return self._recorder

    def _cursor_name(self, stream: str) -> str:
        return f"keycloak-events:{self._realm}:{stream}"

    def load(self, stream: str) -> Cursor:
        stored = self._recorder.spool.cursor(self._cursor_name(stream))
        if stored is None:
            return Cursor()
        try:
            return Cursor.from_json(stored)
        except (KeyError, TypeError, ValueError) as exc:
            raise EventCursorCorrupt(f"The cursor of stream '{stream}' cannot be read.") from exc

    def commit(self, stream: str, events: list[dict[str, Any]], cursor: Cursor) -> None:
        converted = [self.convert(e) for e in events]
        self._recorder.record_external(
            converted, cursor=(self._cursor_name(stream), cursor.to_json())
        )

    def emit(self, events: list[dict[str, Any]]) -> None:
        self._recorder.record_external([self.convert(e) for e in events])

    def convert(self, doc: Mapping[str, Any]) -> AuditEvent:
        event: Mapping[str, Any] = doc.get("event", {})
        user: Mapping[str, Any] = doc.get("user", {})
        keycloak: Mapping[str, Any] = doc.get("keycloak", {})
        target: Mapping[str, Any] = user.get("target") or {}
        labels = {**_labels(keycloak), **_rule_labels(keycloak, target)}
        source = doc.get("source") or {}
        address = str(source.get("ip", "") or "") if isinstance(source, Mapping) else ""
        if address and not _is_ip(address):  # whatever a proxy put there: kept, not trusted
            labels["keycloak_ip_address"] = address[:256]
            address = ""
        try:
            base = event_from_document(
                {
                    "@timestamp": doc.get("@timestamp", ""),
                    "event": {
                        "id": event.get("id", ""),
                        "action": _action(event, keycloak),
                        "outcome": event.get("outcome", "unknown"),
                        "category": list(event.get("category", [])),
                        "type": list(event.get("type", [])),
                        "reason": str(event.get("reason", "") or "")[:1024],
                    },
                    "source": {"ip": address},
                }
            )
        except AuditEventInvalid:
            log.exception("a Keycloak event does not fit the audit schema")
            raise
        resource = None
        if target.get("id"):
            resource = ResourceRef("user", str(target["id"]), str(target.get("name", "") or ""))
        organization = doc.get("organization") or {}
        return dataclasses.replace(
            base,
            # a user name typed at the login form is the attacker's text: bounded, never refused
            user=UserInfo(
                str(user.get("id", "") or "")[:256],
                str(user.get("name", "") or "")[:256],
                tuple(str(r)[:256] for r in user.get("roles") or ()),
            ),
            org_path=str(organization.get("path", "") or ""),
            resource=resource,
            labels=labels,
            service="keycloak",
            stream=self._stream,
        )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _action(event: Mapping[str, Any], keycloak: Mapping[str, Any]) -> str:
    """``keycloak.<action>``, or Anbao's name where the rule pack has one."""
    kind = str(keycloak.get("type", ""))
    path = str(keycloak.get("resource_path", ""))
    if kind in _REFRESH_TYPES:
        return "iam.token.refresh"
    if kind in _REMOVE_CREDENTIAL_TYPES or (
        kind in ("USER_ACTION", "USER_DELETE") and _CREDENTIAL_PATH.fullmatch(path)
    ):
        return "iam.credential.remove"
    return f"keycloak.{str(event.get('action', 'unknown')).lower()}"[:64]


def _rule_labels(keycloak: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, str]:
    details: Mapping[str, Any] = keycloak.get("details") or {}
    out: dict[str, str] = {}
    if target.get("id"):
        out["target_user_id"] = str(target["id"])
    if target.get("roles"):
        out["target_roles"] = ",".join(sorted(str(r) for r in target["roles"]))[:1024]
    kind = str(keycloak.get("type", ""))
    credential = details.get("credential_type") or ("otp" if "TOTP" in kind else "")
    if credential:
        out["credential_type"] = str(credential)[:64]
    if details.get("refresh_token_id"):
        out["token_jti"] = str(details["refresh_token_id"])[:256]
    return out


def _labels(keycloak: Any) -> dict[str, str]:
    if not isinstance(keycloak, Mapping):
        return {}
    keep: Sequence[str] = ("realm", "client_id", "type", "resource_type", "resource_path")
    return {f"keycloak_{k}": str(keycloak[k])[:1024] for k in keep if keycloak.get(k)}


class AuditLifespan:
    """Starts the shipper with the ASGI app and drains/stops it on shutdown."""

    def __init__(self, runtime: AuditRuntime) -> None:
        self._runtime = runtime

    async def process_startup(self, scope: object, event: object) -> None:
        del scope, event
        self._runtime.start()

    async def process_shutdown(self, scope: object, event: object) -> None:
        del scope, event
        self._runtime.stop_shipping()


@contextlib.contextmanager
def keycloak_event_sink(settings: Settings, realm: str = "") -> Iterator[RecorderEventSink]:
    """The journal for ``anbao iam events pull``: records into the service's spool (stream
    ``iam``), with the stream cursors of ``realm`` (default ``keycloak.realm``) in the spool.

    The pull process only appends; the running service's shipper (which holds the spool lock)
    ships the events with the rest, so the puller needs no store credentials.
    """
    with spool_recorder(settings) as recorder:
        yield RecorderEventSink(recorder, realm=realm or settings.keycloak.realm)
