"""One process of the singleton failover test and bench: a ``SingletonJob`` on a PostgreSQL lease.

Run as ``python -m tests.integration.anbao.singleton_worker URL JOB INTERVAL RUN_SECONDS``. Each
run of the job records its process id and the database's clock at its start and end in the
table ``singleton_runs`` (:func:`create_table`), so the test can read, from any process, who ran
when, and whether two runs ever overlapped (:func:`overlaps`). The process runs until killed.
:class:`Workers` starts and kills such processes (the test and ``bench/singleton_failover.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

from anbao.wiring.singleton import SingletonJob
from audit.lease.postgres import PostgresLease
from tests.paths import ROOT

TABLE = """
CREATE TABLE IF NOT EXISTS singleton_runs (
    id bigserial PRIMARY KEY,
    job text NOT NULL,
    pid integer NOT NULL,
    started timestamptz NOT NULL,
    ended timestamptz
)
"""


def create_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE)


@dataclasses.dataclass(frozen=True)
class Run:
    pid: int
    started: dt.datetime
    ended: dt.datetime | None


class Workers:
    """The worker processes of one job, and what they recorded."""

    def __init__(self, url: str, job: str, logs: Path, interval: float, run: float) -> None:
        self.url, self.job, self.interval, self.run_seconds = url, job, interval, run
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.ended: dict[int, dt.datetime] = {}  # pid -> when it was killed
        self._logs = logs

    def start(self, count: int) -> None:
        for _ in range(count):
            with (self._logs / f"{self.job}-{len(self.procs)}.log").open("wb") as log:
                command = [sys.executable, "-m", "tests.integration.anbao.singleton_worker",
                           self.url, self.job, str(self.interval), str(self.run_seconds)]  # fmt: skip
                proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
            self.procs[proc.pid] = proc

    def runs(self) -> list[Run]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, started, ended FROM singleton_runs WHERE job = %s ORDER BY started",
                (self.job,),
            ).fetchall()
        return [Run(*row) for row in rows]

    def now(self) -> dt.datetime:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

    def kill(self, pid: int) -> dt.datetime:
        at = self.now()
        self.procs[pid].send_signal(signal.SIGKILL)
        self.procs[pid].wait()
        self.ended[pid] = at
        return at

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait()


def overlaps(runs: list[Run], ended: dict[int, dt.datetime]) -> list[tuple[Run, Run]]:
    """Pairs of runs at once; a run without an end ended when its process was killed (or runs
    still, if its process lives)."""
    found: list[tuple[Run, Run]] = []
    latest: Run | None = None
    latest_end = dt.datetime.min.replace(tzinfo=dt.UTC)
    for run in sorted(runs, key=lambda r: r.started):
        if latest is not None and run.started < latest_end:
            found.append((latest, run))
        end = run.ended or ended.get(run.pid) or dt.datetime.max.replace(tzinfo=dt.UTC)
        if end > latest_end:
            latest, latest_end = run, end
    return found


def main(argv: list[str]) -> None:
    url, job, interval, run_seconds = argv[0], argv[1], float(argv[2]), float(argv[3])
    record = psycopg.connect(url, autocommit=True)

    def run() -> None:
        row = record.execute(
            "INSERT INTO singleton_runs (job, pid, started) VALUES (%s, %s, clock_timestamp())"
            " RETURNING id",
            (job, os.getpid()),
        ).fetchone()
        assert row is not None
        time.sleep(run_seconds)
        record.execute("UPDATE singleton_runs SET ended = clock_timestamp() WHERE id = %s", row)

    SingletonJob(job, run, PostgresLease(url, job), interval).start()
    print("started", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1:])
