"""Singleton failover time (issue 20: a dead holder's job taken over within 30 s), one JSON document.

``--workers`` separate processes run the same ``SingletonJob`` on a PostgreSQL lease
(tests/integration/anbao/singleton_worker.py: each run records its pid and the database clock at
its start and end) in a fresh database on the local PostgreSQL (deploy/local/postgres.sh). The
holder is killed ``--kills`` times with SIGKILL (a new worker replaces it, so standbys remain)
and frozen ``--freezes`` times with SIGSTOP (the case where the holder's socket stays open, like
a host cut off without a reset: the server ends its silent session after
``idle_session_timeout``), thawed once another process has taken over.

The takeover time of one failure is from the kill (or freeze), read on the database clock, to the
new holder's first run, minus one interval: a new holder runs first one interval after it takes
the lease, by design (no repeat of a run the dead holder may just have made). The reference is
the budget, 30 s. ``overlaps`` counts pairs of runs at once over the whole session, the thawed
holders included (the fencing check must refuse them a run): it must be 0.

Standbys poll every min(interval, 10 s): ``--interval 2`` is the Keycloak event pull's default;
``--interval 12`` shows the 10 s standby retry of long jobs (compliance, retention).

    python -m bench.singleton_failover [--kills 5] [--freezes 1] [--workers 3] [--interval 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import statistics
import tempfile
import time
from collections.abc import Callable

import psycopg

from anbao.wiring.singleton import CLUSTER_RETRY_SECONDS
from audit.lease.postgres import IDLE_SESSION_TIMEOUT_SECONDS
from tests.integration.anbao.singleton_worker import Run, Workers, create_table, overlaps
from tests.integration.conftest import _env

BUDGET_S = 30.0
WAIT_S = 120.0


def _until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"never happened: {what}")
        time.sleep(0.05)


def _holder(workers: Workers, *, between_runs: bool) -> int:
    """The pid of the current holder (optionally at a moment it is not inside a run)."""
    while True:
        runs = workers.runs()
        live = [r for r in runs if r.pid not in workers.ended]
        if live and (live[-1].ended is not None or not between_runs):
            return live[-1].pid
        time.sleep(0.02)


def _first_after(workers: Workers, pid: int, at: dt.datetime) -> Run:
    def new() -> list[Run]:
        return [r for r in workers.runs() if r.pid != pid and r.started > at]

    _until(new, "another process running the job")
    return new()[0]


def _kill(workers: Workers) -> float:
    holder = _holder(workers, between_runs=False)
    at = workers.kill(holder)
    workers.start(1)  # the dead node's replacement joins as a standby
    first = _first_after(workers, holder, at)
    return (first.started - at).total_seconds() - workers.interval


def _freeze(workers: Workers, fenced: list[int]) -> float:
    while True:
        holder = _holder(workers, between_runs=True)
        os.kill(holder, signal.SIGSTOP)
        at = workers.now()
        mine = [r for r in workers.runs() if r.pid == holder]
        if mine and mine[-1].ended is not None:
            break
        os.kill(holder, signal.SIGCONT)  # a run began just before the freeze: again
    try:
        first = _first_after(workers, holder, at)
    finally:
        os.kill(holder, signal.SIGCONT)
    thawed = workers.now()
    _until(lambda: sum(r.started > thawed for r in workers.runs()) >= 3, "runs after the thaw")
    fenced.append(sum(r.pid == holder and r.started > at for r in workers.runs()))
    return (first.started - at).total_seconds() - workers.interval


def _figures(values: list[float]) -> dict[str, object]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
        "samples": [round(v, 3) for v in values],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--freezes", type=int, default=1)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--run-seconds", type=float, default=0.3)
    args = parser.parse_args()

    env = _env("postgres")
    name = f"anbao_bench_singleton_{secrets.token_hex(4)}"
    with psycopg.connect(env["POSTGRES_URL"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{name}"
    )
    started = time.monotonic()
    try:
        create_table(url)
        with tempfile.TemporaryDirectory() as logs:
            workers = Workers(url, "bench", Path(logs), args.interval, args.run_seconds)
            workers.start(args.workers)
            try:
                _until(lambda: len(workers.runs()) >= 2, "the job running")
                kills = [_kill(workers) for _ in range(args.kills)]
                thawed_runs: list[int] = []  # runs by a thawed holder: fencing makes them 0
                freezes = [_freeze(workers, thawed_runs) for _ in range(args.freezes)]
                runs = workers.runs()
                found = overlaps(runs, workers.ended)
            finally:
                workers.stop_all()
    finally:
        with psycopg.connect(env["POSTGRES_URL"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    worst = max(kills + freezes, default=0.0)
    print(json.dumps({
        "bench": "singleton_failover",
        "what": "kill -9 / SIGSTOP of the holder of a SingletonJob on a PostgreSQL lease, "
                "to the new holder's first run minus one interval",
        "workers": args.workers,
        "interval_s": args.interval,
        "standby_retry_s": min(args.interval, CLUSTER_RETRY_SECONDS),
        "idle_session_timeout_s": IDLE_SESSION_TIMEOUT_SECONDS,
        "takeover_after_kill_s": _figures(kills),
        "takeover_after_freeze_s": _figures(freezes),
        "reference": {"budget_s": BUDGET_S},
        "worst_vs_budget": round(worst / BUDGET_S, 3),
        "runs": len(runs),
        "overlaps": len(found),
        "runs_by_thawed_holders": sum(thawed_runs),
        "elapsed_s": round(time.monotonic() - started, 1),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
