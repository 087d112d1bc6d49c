"""Background jobs that run once per deployment, not once per worker.

A deployment runs several uvicorn workers (and ``anbao`` operator commands) on one data
directory. A periodic job whose effect is shared — pulling Keycloak's events into the audit
trail, the scheduled compliance runs — must run in exactly one of them. Each such job is a
:class:`SingletonJob` on a lease (:class:`audit.lease.FileLease`: an ``flock`` on a file next to
the spool, one file per job). Every worker starts the job with the ASGI lifespan, never when the
app is built (an app built only to read its parts — a test, a CLI — starts nothing); the worker
that holds the lease runs the job, the others retry taking the lease every ``retry`` seconds.
The kernel releases an ``flock`` when its holder dies, however it dies, so the job moves to
another worker within one retry period.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from audit.lease import FileLease

log = logging.getLogger("anbao.jobs")

#: How often a worker without the lease tries to take it (the longest a dead holder's job waits).
RETRY_SECONDS = 30.0


def job_lease(spool_path: str | Path, job: str) -> FileLease:
    """The lease of ``job`` for the deployment of the spool at ``spool_path`` (one spool per
    deployment, shared by its workers): ``<spool>.<job>.lock``."""
    spool = Path(spool_path)
    return FileLease(spool.with_name(f"{spool.name}.{job}.lock"))


class SingletonJob:
    """Runs ``run`` every ``interval`` seconds while this process holds ``lease``.

    Also the job's ASGI lifespan middleware: started at start-up, stopped (lease released) at
    shutdown. The first run comes one interval after the lease is taken, so a worker that takes
    over from a dead holder does not repeat a run the holder may just have made, and an app
    whose lifespan is shorter than one interval (a test client's) never runs the job.
    """

    def __init__(
        self,
        name: str,
        run: Callable[[], object],
        lease: FileLease,
        interval: float,
        *,
        retry: float = RETRY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.lease = lease
        self._job = run
        self._interval = interval
        self._poll = min(interval, retry)
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object | None:
        """Run the job once if the lease is (or can be) held: its result, None without it."""
        if not self.lease.try_acquire():
            return None
        return self._job()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        due = self._monotonic() + self._interval
        while not self._stop.wait(max(0.0, min(self._poll, due - self._monotonic()))):
            if not self.lease.try_acquire():
                due = self._monotonic() + self._interval  # a standby: counts from the take-over
                continue
            if self._monotonic() < due:
                continue
            due = self._monotonic() + self._interval
            try:
                self._job()
            except Exception:  # a bug must not end the job for the life of the process
                log.exception("background job %s failed; retrying at the next interval", self.name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.lease.release()

    async def process_startup(self, scope: object, event: object) -> None:
        del scope, event
        self.start()

    async def process_shutdown(self, scope: object, event: object) -> None:
        del scope, event
        self.stop()
