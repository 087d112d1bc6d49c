"""What auditing an API request costs (issue 18), registered as section ``cost`` of bench/audit.py.

The real service (``anbao.asgi`` through uvicorn, one worker) is loaded by wrk over loopback,
once with the audit middleware recording every request and once without
(``audit.record_requests = false``, the reference, in the same run). Two figures:

* ``cpu``: Anbao's CPU time per request, audited over unaudited (target <= 1.5). For the audited
  server the window runs from the start of the load until the spool is empty and the store holds
  every event of the load: serving, spool commits, expansion, the store writes, the Merkle leaves
  and everything else any of the server's processes (the shipper child too) did meanwhile. CPU is
  read from ``/proc`` for the server's whole process tree. The store server's CPU
  (Elasticsearch) over the same window is reported apart.
* ``sustained``: requests per second over ``--sustained-seconds`` (>= 60) of load, audited over
  unaudited, with the spool backlog (pending events) at the start and end of the window. Events
  left in the spool at the end that were not there at the start count against the audited rate:
  ``sustained_rps = (requests - backlog growth) / seconds``, the rate the whole pipeline keeps up
  with.

Rounds interleave the servers (order reversed every round); ratios are medians of the paired
rounds. The machine's load average is reported, since other work on it slows every server.

    python bench/audit.py --sections cost [--stores sqlite,elasticsearch]
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from audit.ports import AuditStore
from audit.recording.spool import FsyncPolicy, Spool, SpoolConfig
from audit.stores.sqlite import SqliteAuditStore
from bench.audit_ingest import es_env, es_store

_TICKS = os.sysconf("SC_CLK_TCK")
#: The shipper's placements: a thread of the worker, or its child process.
SHIPPING = ("thread", "subprocess")


def _stats() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, user + system ticks, reaped children's included) of every process."""
    out: dict[int, tuple[int, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            out[int(stat.parent.name)] = (int(fields[1]), ticks)
    return out


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and all its descendants (Linux ``/proc``)."""
    stats = _stats()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0))[1]
        todo += children.get(pid, [])
    return total / _TICKS


def elasticsearch_pids() -> list[int]:
    """The local Elasticsearch's processes (its JVM), found by command line."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if b"org.elasticsearch.bootstrap.Elasticsearch" in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
    return pids


def _store_server_cpu(kind: str) -> Callable[[], float]:
    if kind != "elasticsearch":
        return lambda: 0.0
    pids = elasticsearch_pids()
    return lambda: sum(tree_cpu_seconds(pid) for pid in pids)


def _env(kind: str, tmp: Path, audited: bool, shipping: str, fsync: str) -> dict[str, str]:
    from bench.audit_ingest import _service_env  # noqa: PLC0415 - the services' settings

    env = _service_env(kind, tmp, audited, fsync, shipping)
    env["ANBAO_AUDIT_SKIP_PATHS"] = ""  # the probe is audited on purpose: the cheapest request
    return env


class Audited:
    """An audited server's spool and store, read from the bench process."""

    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.spool_path = Path(env["ANBAO_AUDIT_SPOOL_PATH"])
        self.kind = kind
        self.env = env

    def backlog(self) -> int:
        spool = Spool(SpoolConfig(path=self.spool_path, fsync=FsyncPolicy.INTERVAL))
        try:
            return spool.stats().pending_events
        finally:
            spool.close()

    def _store(self) -> AuditStore:
        if self.kind == "sqlite":
            return SqliteAuditStore(self.env["ANBAO_AUDIT_SQLITE_PATH"])
        store = es_store("x")
        store.prefix = self.env["ANBAO_AUDIT_INDEX_PREFIX"]
        store.pattern = f"{store.prefix}-*"
        return store

    def stored(self) -> int:
        store = self._store()
        try:
            if self.kind == "elasticsearch":
                store.refresh()
            return int(store.streams().get("api", 0))
        except Exception:  # noqa: BLE001 - no index yet
            return 0
        finally:
            store.close()

    def drained(self, expected: int, timeout: float = 600.0) -> None:
        """Wait until the spool is empty and the store holds ``expected`` api events."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.backlog() == 0 and self.stored() >= expected:
                return
            time.sleep(0.05)
        raise RuntimeError(f"not drained in {timeout:.0f} s")

    def delete(self) -> None:
        if self.kind == "elasticsearch":
            store = self._store()
            store.delete_all()  # type: ignore[attr-defined]
            store.close()


def _load(url: str, seconds: int, args: argparse.Namespace, cpu: int | None) -> dict[str, float]:
    from bench.http import _wrk  # noqa: PLC0415 - wrk helpers

    run = _wrk(url, seconds, args.connections, cpu=cpu)
    if run["errors"]:
        raise RuntimeError(f"{run['errors']} answers other than 200")
    return run


def _cpu_round(
    base: tuple[str, int],
    audited: Audited | None,
    args: argparse.Namespace,
    placement: tuple[int, int] | None,
    store_cpu: Callable[[], float],
) -> dict[str, float]:
    url, pid = base
    before = audited.stored() if audited else 0
    cpu0, store0, start = tree_cpu_seconds(pid), store_cpu(), time.monotonic()
    run = _load(url, args.seconds, args, placement[1] if placement else None)
    if audited is not None:
        audited.drained(before + int(run["requests"]))
    cpu1, store1, end = tree_cpu_seconds(pid), store_cpu(), time.monotonic()
    requests = run["requests"]
    return {
        "rps": run["rps"],
        "requests": requests,
        "window_seconds": round(end - start, 2),
        "cpu_us_per_request": round((cpu1 - cpu0) * 1e6 / requests, 1),
        "store_server_cpu_us_per_request": round((store1 - store0) * 1e6 / requests, 1),
    }


def _sustained(
    base: tuple[str, int],
    audited: Audited | None,
    args: argparse.Namespace,
    placement: tuple[int, int] | None,
) -> dict[str, float]:
    url, pid = base
    backlog0 = audited.backlog() if audited else 0
    stored0 = audited.stored() if audited else 0
    cpu0 = tree_cpu_seconds(pid)
    run = _load(url, args.sustained_seconds, args, placement[1] if placement else None)
    cpu1 = tree_cpu_seconds(pid)
    backlog1 = audited.backlog() if audited else 0
    stored1 = audited.stored() if audited else 0
    growth = max(0, backlog1 - backlog0)
    out = {
        "seconds": args.sustained_seconds,
        "rps": run["rps"],
        "requests": run["requests"],
        "cpu_us_per_request_in_window": round((cpu1 - cpu0) * 1e6 / run["requests"], 1),
        "spool_backlog_start": backlog0,
        "spool_backlog_end": backlog1,
        "stored_in_window": stored1 - stored0,
        "sustained_rps": round((run["requests"] - growth) / args.sustained_seconds, 1),
    }
    if audited is not None:
        audited.drained(stored0 + int(run["requests"]))
    return out


def section_cost(args: argparse.Namespace, kind: str, tmp: Path) -> dict[str, Any]:
    """See the module doc."""
    from bench.audit_ingest import _placement, _settle  # noqa: PLC0415
    from bench.http import _free_port, _server, _uvicorn  # noqa: PLC0415 - wrk helpers

    placement = _placement(args)
    shipping = args.shipping.split(",")
    envs = {"without": _env(kind, tmp, False, "thread", args.fsync)}
    for where in shipping:
        envs[f"shipper_{where}"] = _env(kind, tmp, True, where, args.fsync)
    audited = {name: Audited(kind, env) for name, env in envs.items() if name != "without"}
    if kind == "elasticsearch":
        es_env()
    store_cpu = _store_server_cpu(kind)
    with contextlib.ExitStack() as stack:
        bases: dict[str, tuple[str, int]] = {}
        for name, env in envs.items():
            port = _free_port()
            argv = _uvicorn("anbao.asgi:app", port)
            url, pid = stack.enter_context(_server(argv, port, env, tmp / f"{name}.log"))
            # `/healthz/`, routed by Falcon: an unaudited `/healthz` is answered before Falcon
            # (anbao.web.middleware), so the reference would not pay the edge the audited pays.
            bases[name] = (url + "/", pid)
            if placement is not None:
                os.sched_setaffinity(pid, {placement[0]})  # its main thread: the serving one
        for name in envs:  # warm-up: imports, caches, the store's first index
            _load(bases[name][0], 2, args, placement[1] if placement else None)
            if name in audited:
                audited[name].drained(0)
        _settle()
        load0 = os.getloadavg()
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in envs}
        for number in range(args.cost_rounds):
            for name in list(envs) if number % 2 == 0 else list(reversed(envs)):
                rounds[name].append(
                    _cpu_round(bases[name], audited.get(name), args, placement, store_cpu)
                )
                _settle()
        sustained = {}
        for name in envs:
            sustained[name] = _sustained(bases[name], audited.get(name), args, placement)
            _settle()
        load1 = os.getloadavg()
    for one in audited.values():
        one.delete()
    return _report(args, placement, rounds, sustained, (load0, load1))


def _report(
    args: argparse.Namespace,
    placement: tuple[int, int] | None,
    rounds: dict[str, list[dict[str, float]]],
    sustained: dict[str, dict[str, float]],
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> dict[str, Any]:
    reference = rounds["without"]
    out: dict[str, Any] = {
        "request": "GET /healthz/ -> 200 through Falcon (audited on purpose: the cheapest request)",
        "fsync": args.fsync,
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "rounds": args.cost_rounds,
        "placement": "free"
        if placement is None
        else f"server's serving thread on CPU {placement[0]}, wrk on CPU {placement[1]}",
        "load_average_start_end": [round(x, 2) for x in (*load[0][:1], *load[1][:1])],
        "without_audit": {
            "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] for r in reference),
            "rps": statistics.median(r["rps"] for r in reference),
            "sustained": sustained["without"],
        },
    }
    for name, mine in rounds.items():
        if name == "without":
            continue
        paired = list(zip(mine, reference, strict=True))
        base_rps = sustained["without"]["rps"]
        out[name] = {
            "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] for r in mine),
            "cpu_ratio": round(
                statistics.median(
                    r["cpu_us_per_request"] / b["cpu_us_per_request"] for r, b in paired
                ),
                3,
            ),
            "rounds_cpu_ratio": [
                round(r["cpu_us_per_request"] / b["cpu_us_per_request"], 3) for r, b in paired
            ],
            "cpu_target": "<= 1.5",
            "store_server_cpu_us_per_request": statistics.median(
                r["store_server_cpu_us_per_request"] for r in mine
            ),
            "window_over_load_seconds": statistics.median(
                r["window_seconds"] / args.seconds for r in mine
            ),
            "sustained": sustained[name],
            "sustained_ratio": round(sustained[name]["sustained_rps"] / base_rps, 3),
        }
    return out
