"""The shipper child process (``audit.ship_in_subprocess``): the audit runtime and its delivery
observers, nothing else.

Why a builder of its own: the child ships the spool, and what shipping needs is the store, the
spool, the tamper-evidence log (a Merkle leaf for each stored event) and the observers told of
each delivery (streaming detection, which opens alerts and may plan response actions). Building
the whole service for that would start a web app, Keycloak clients and the compliance schedule
in every child. Settings come from the environment, as ``anbao.asgi`` reads them; durability is
the spool's, and the shipper lock elects one shipper among all processes.

    python -m anbao.shipper_child
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Iterator

from anbao import logs, seal_wiring, siem_wiring
from anbao.audit_wiring import (
    PARENT_ENV,
    AuditRuntime,
    build_audit_integrity,
    build_audit_runtime,
    build_audit_store,
)
from anbao.settings import Settings
from anbao.siem_alerts_wiring import build_siem_alerts
from audit.recording.recorder import install
from siem.alerts import QueuedSink


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def shipping_runtime(settings: Settings) -> Iterator[AuditRuntime]:
    """The runtime whose shipper logs integrity leaves and tells the streaming detections;
    closes what it opened on exit."""
    with contextlib.ExitStack() as stack:
        store = build_audit_store(settings)
        stack.callback(store.close)
        integrity = build_audit_integrity(settings, time.time)
        stack.callback(integrity.log.close)
        runtime = build_audit_runtime(settings, store, on_stored=integrity.append_records)
        stack.callback(runtime.stop)
        if settings.siem.streaming:
            registry = None
            if settings.siem.responses_enabled:  # a detection's response may suspend a seal
                registry = seal_wiring.build_seal_registry(settings, runtime.recorder, _utc_now)
                if registry is not None:
                    stack.callback(registry.close)
            alerts = build_siem_alerts(
                settings, recorder=runtime.recorder, registry=registry, clock=_utc_now
            )
            siem_wiring.attach_streaming(
                runtime, QueuedSink(alerts.alerts), settings, clock=_utc_now
            )
        yield runtime


def main() -> None:
    """Ship until SIGTERM, or until the parent serving process is gone (a new one starts its
    own child)."""
    environ = os.environ  # noqa: TID251 - an entry point, like anbao.asgi
    parent = int(environ.get(PARENT_ENV, "0") or 0)
    settings = Settings.load(environ)
    logs.configure(settings.server.log_level)
    os.nice(settings.audit.shipper_nice)  # the serving parent gets the CPU first under a burst
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with shipping_runtime(settings) as runtime:
        install(runtime.recorder)
        runtime.shipper.start()
        while not stop.wait(0.5):
            if parent and os.getppid() != parent:
                break


if __name__ == "__main__":
    main()
