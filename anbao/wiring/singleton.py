"""Background jobs that run once per deployment, not once per worker.

A deployment runs several uvicorn workers (and ``anbao`` operator commands), on one machine or
on several nodes. A periodic job whose effect is shared — pulling Keycloak's events into the
audit trail, the scheduled compliance runs, audit retention — must run in exactly one of them.
Each such job is a :class:`SingletonJob` on a lease (:mod:`audit.lease`), one per job, of one
mechanism per deployment mode (:func:`job_lease`):

* one machine (``[cluster] database_url`` empty): an ``flock`` on a file next to the spool
  (:class:`audit.lease.FileLease`); the kernel releases it when its holder dies, however it dies;
  standbys retry every :data:`RETRY_SECONDS`;
* clustered: a PostgreSQL advisory lock (:class:`audit.lease.postgres.PostgresLease`); the server releases
  it when the holder's session ends (at once on a kill, within ~15 s on a vanished or frozen
  holder); standbys retry every :data:`CLUSTER_RETRY_SECONDS`, so a job is taken over within
  15 + 10 = 25 s of its holder's death, detection included (the issue's budget: 30 s).

Every worker starts the job with the ASGI lifespan, never when the app is built (an app built only
to read its parts — a test, a CLI — starts nothing); the worker that holds the lease runs the job,
the others retry taking the lease. Before each run the holder confirms the lease (fencing: on the
cluster, a round trip to the database) and skips the run if it cannot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from anbao.settings import Settings
from audit.lease import FileLease, Lease
from audit.lease.postgres import PostgresLease

log = logging.getLogger("anbao.jobs")

#: How often a worker without a file lease tries to take it (the longest a dead holder's job
#: waits on one machine).
RETRY_SECONDS = 30.0
#: How often a standby tries to take a PostgreSQL lease: the server frees a dead holder's lock
#: within 15 s (audit.lease.postgres.IDLE_SESSION_TIMEOUT_SECONDS), so 15 + 10 s <= 30 s.
CLUSTER_RETRY_SECONDS = 10.0


def job_lease(settings: Settings, job: str) -> Lease:
    """The lease of ``job`` for the deployment: in PostgreSQL when clustered, else a lock file
    next to the spool (:func:`file_lease`)."""
    if settings.cluster.clustered:
        return PostgresLease(settings.cluster.database_url.reveal(), job)
    return file_lease(settings.audit.spool_path, job)


def file_lease(spool_path: str | Path, job: str) -> FileLease:
    """The lease of ``job`` for the deployment of the spool at ``spool_path`` (one spool per
    machine, shared by its workers): ``<spool>.<job>.lock``."""
    spool = Path(spool_path)
    return FileLease(spool.with_name(f"{spool.name}.{job}.lock"))


def standby_retry(lease: Lease) -> float:
    """How often a standby of ``lease`` tries to take it."""
    return CLUSTER_RETRY_SECONDS if isinstance(lease, PostgresLease) else RETRY_SECONDS


class SingletonJob:
    """Runs ``run`` every ``interval`` seconds while this process holds ``lease``.

    Also the job's ASGI lifespan middleware: started at start-up, stopped (lease released) at
    shutdown. The first run comes one interval after the lease is taken (each time it is taken),
    so a worker that takes over from a dead holder does not repeat a run the holder may just have
    made, and an app whose lifespan is shorter than one interval (a test client's) never runs the
    job. Each run is preceded by :meth:`audit.lease.Lease.confirm`; a lease that cannot be
    confirmed is dropped and the worker becomes a standby again.
    """

    def __init__(
        self,
        name: str,
        run: Callable[[], object],
        lease: Lease,
        interval: float,
        *,
        retry: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.lease = lease
        self._job = run
        self._interval = interval
        self._poll = min(interval, standby_retry(lease) if retry is None else retry)
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object | None:
        """Run the job once if the lease is (or can be) held: its result, None without it."""
        if not (self.lease.try_acquire() and self.lease.confirm()):
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
            was_held = self.lease.held
            if not self.lease.try_acquire():
                due = self._monotonic() + self._interval  # a standby
                continue
            if not was_held:  # taken (or taken back): the first run is one interval away
                due = self._monotonic() + self._interval
            if self._monotonic() < due:
                continue
            if not self.lease.confirm():  # fencing: the lease may have gone since it was taken
                log.warning("background job %s: lease not confirmed, run skipped", self.name)
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
