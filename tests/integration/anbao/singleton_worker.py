"""One process of the singleton failover test and bench: a ``SingletonJob`` on a PostgreSQL lease.

Run as ``python -m tests.integration.anbao.singleton_worker URL JOB INTERVAL RUN_SECONDS``. Each
run of the job records its process id and the database's clock at its start and end in the
table ``singleton_runs`` (:func:`create_table`), so the test can read, from any process, who ran
when, and whether two runs ever overlapped. The process runs until killed.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import psycopg

from anbao.wiring.singleton import SingletonJob
from audit.lease import PostgresLease

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
