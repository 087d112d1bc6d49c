"""The audit shipper's delivery hooks: what follows once the store holds a batch of events.

Tamper evidence logs the batch's Merkle leaves (``on_stored``) and the streaming detections see
the events (an observer). The serving app builds them in :func:`anbao.app.create_app`; the
shipper child (``audit.ship_in_subprocess``) builds only the audit runtime and these hooks
(:func:`shipping_runtime`), not the app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from anbao.settings import Settings
from anbao.wiring import seals, siem
from anbao.wiring.audit import AuditRuntime, build_recorder, with_shipper
from anbao.wiring.audit_integrity import build_audit_integrity
from anbao.wiring.iam import build_org_directory
from anbao.wiring.siem_alerts import SiemAlerts, build_siem_alerts
from audit.integrity.service import IntegrityService
from audit.ports import AuditStore, DeliveryObserver
from audit.recording.recorder import Recorder
from siem.alerts.service import QueuedSink


def delivering_runtime(
    settings: Settings,
    recorder: Recorder,
    store: AuditStore,
    *,
    integrity: IntegrityService,
    alerts: SiemAlerts,
    clock: Callable[[], dt.datetime],
) -> AuditRuntime:
    """``recorder``'s runtime: the shipper to ``store`` with every delivery hook."""
    observers: list[DeliveryObserver] = []
    if settings.siem.streaming:
        observers.append(siem.streaming_engine(settings, QueuedSink(alerts.alerts), clock=clock))
    return with_shipper(
        settings, recorder, store, on_stored=integrity.append_records, observers=observers
    )


def shipping_runtime(
    settings: Settings, store: AuditStore, clock: Callable[[], float]
) -> tuple[AuditRuntime, Callable[[], None]]:
    """The shipper child's runtime and what closes its parts: the recorder, the integrity log
    and the alert service (with its seal registry, for response actions) — no app."""
    now = lambda: dt.datetime.fromtimestamp(clock(), dt.UTC)  # noqa: E731
    recorder = build_recorder(settings)
    integrity = build_audit_integrity(settings, clock)
    # The seal registry (and the directory it names org nodes by) only when a detection's
    # response may suspend a seal: otherwise the child opens no Keycloak client.
    directory = None
    registry = None
    if settings.siem.streaming and settings.siem.responses_enabled:
        directory = build_org_directory(settings)
        registry = seals.build_seal_registry(
            settings, recorder, now, None, seals.DirectoryOrgTree(directory)
        )
    alerts = build_siem_alerts(settings, recorder=recorder, registry=registry, clock=now)
    runtime = delivering_runtime(
        settings, recorder, store, integrity=integrity, alerts=alerts, clock=now
    )

    def close() -> None:
        alerts.close()
        if registry is not None:
            registry.close()
        integrity.log.close()
        if directory is not None:
            directory.admin.close()

    return runtime, close
