"""Audit ingest through the Anbao cluster (issue 20): two nodes behind the balancer vs one.

The cluster of ``deploy/cluster`` (``cluster.sh up`` when it is not running; brought down after
only if this run started it) is loaded by wrk through HAProxy (TLS, 127.0.0.1:8100) with audited
API calls (``GET /whoami`` as the demo auditor, each with its own request id, so every call is
one audit event). The reference, in the same run: the same load through the same balancer with
anbao-2 disabled on HAProxy's admin socket, so one node takes it all. Rounds alternate the two.

Per round: events/s while loaded (wrk's completed calls), and end to end (every event of the
round in Elasticsearch, both spools empty: the drain is inside the window); CPU seconds per
event of each node (the node's whole process tree: master, workers, shippers, from /proc) and
of HAProxy, over the same window. The capacity model divides a core-second by the CPU per event.
On a machine of two cores, two nodes share the cores with each other, Elasticsearch, Keycloak,
HAProxy and wrk: the two-vs-one ratio shows what the second node costs, not how a cluster of
machines scales; the model (events/s per core of Anbao) is what extrapolates.

After the load, at steady state: the RSS (and PSS) of every process of each node, by role
(master, worker, shipper; target <= 200 MB per worker).

    python -m bench.cluster_ingest [--seconds 20] [--connections 16] [--rounds 2]
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
import json
import os
import socket
import statistics
import tempfile
import time
import tomllib
import uuid
from typing import Any

import httpx

from bench.http import _wrk
from tests.journeys.cluster import Cluster, auditor, running

_TICKS = os.sysconf("SC_CLK_TCK")
_LUA = """
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Request-ID"] = "{prefix}-" .. n
  return wrk.format("GET", "/whoami")
end
wrk.headers["Authorization"] = "Bearer {token}"
"""


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every live process in the process group ``pgid``."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICKS


def _haproxy(cluster: Cluster, command: str) -> str:
    sock_path = Path(cluster.env["ANBAO_CONFIG_1"]).parent.parent / "haproxy.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(sock_path))
        sock.sendall(command.encode() + b"\n")
        return sock.recv(65536).decode()


def _haproxy_pid(cluster: Cluster) -> int:
    return int((Path(cluster.env["ANBAO_CONFIG_1"]).parent.parent / "haproxy.pid").read_text())


class Store:
    """Counts the round's events in Elasticsearch (the nodes' own settings say where)."""

    def __init__(self, cluster: Cluster) -> None:
        settings = tomllib.loads(Path(cluster.env["ANBAO_CONFIG_1"]).read_text())
        es, audit = settings["elasticsearch"], settings["audit"]
        verify: Any = True
        if es.get("ca_file"):
            import ssl  # noqa: PLC0415

            verify = ssl.create_default_context(cafile=es["ca_file"])
        self.http = httpx.Client(
            base_url=es["url"].split(",")[0].strip(),
            auth=(es["username"], es["password"]),
            verify=verify,
            timeout=60,
        )
        self.pattern = f"{audit['index_prefix']}-*"

    def count(self, prefix: str) -> int:
        self.http.post(f"/{self.pattern}/_refresh")
        body = {"query": {"prefix": {"trace.id": prefix + "-"}}}
        response = self.http.post(f"/{self.pattern}/_count", json=body)
        response.raise_for_status()
        return int(response.json()["count"])


def _drained(
    cluster: Cluster, store: Store, prefix: str, served: int, deadline: float
) -> tuple[int, float]:
    """Waits until both spools are empty and the store holds at least ``served`` events of the
    round, its count unchanged for two seconds; returns the count and when it was reached."""
    end, last, reached = time.monotonic() + deadline, -1, time.monotonic()
    while time.monotonic() < end:
        pending = sum(cluster.spool_pending(n) for n in (1, 2))
        count = store.count(prefix)
        if count != last:
            last, reached = count, time.monotonic()
        if pending == 0 and count >= served and time.monotonic() - reached >= 2:
            return count, reached
        time.sleep(0.25)
    raise RuntimeError(f"round {prefix} not drained in {deadline} s: {last} of {served}")


def _round(
    cluster: Cluster, store: Store, token: str, nodes: int, args: argparse.Namespace
) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    _haproxy(cluster, f"{'enable' if nodes == 2 else 'disable'} server anbao_nodes/anbao-2")
    time.sleep(2)  # the balancer's next pick honours the change
    groups = {n: cluster.group(n) for n in (1, 2)}
    proxy = _haproxy_pid(cluster)
    before = {n: _group_cpu(g) for n, g in groups.items()}
    proxy_before = _group_cpu(proxy)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(_LUA.replace("{prefix}", prefix).replace("{token}", token))
        lua.flush()
        load = _wrk(cluster.url, args.seconds, args.connections, script=Path(lua.name))
    loaded = time.monotonic() - started
    load.pop("cpu_us_per_request", None)  # the server's CPU is measured below, per node
    events, reached = _drained(cluster, store, prefix, int(load["requests"]), args.drain_deadline)
    window = reached - started
    cpu = {n: _group_cpu(g) - before[n] for n, g in groups.items()}
    return {
        "nodes": nodes,
        "events": events,
        "wrk": load,
        "events_per_s_loaded": round(load["requests"] / loaded, 1),
        "events_per_s_end_to_end": round(events / window, 1),
        "drain_s": round(window - loaded, 1),
        "cpu_ms_per_event": {f"anbao-{n}": round(cpu[n] * 1000 / events, 3) for n in (1, 2)},
        "cpu_ms_per_event_anbao": round(sum(cpu.values()) * 1000 / events, 3),
        "cpu_ms_per_event_haproxy": round((_group_cpu(proxy) - proxy_before) * 1000 / events, 3),
    }


def _memory(cluster: Cluster) -> dict[str, Any]:
    """RSS and PSS (MB) of each process of each node, by role."""
    out: dict[str, Any] = {}
    for n in (1, 2):
        master = cluster.group(n)
        rows: list[dict[str, Any]] = []
        for pid in cluster.processes(n):
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                role = (
                    "master"
                    if pid == master
                    else "shipper"
                    if b"ship_main" in cmd
                    else "worker"
                    if b"spawn_main" in cmd
                    else "resource_tracker"
                )
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                kb = {ln.split(":")[0]: int(ln.split()[1]) for ln in rollup.splitlines()[1:]}
                rows.append(
                    {
                        "role": role,
                        "rss_mb": round(kb["Rss"] / 1024, 1),
                        "pss_mb": round(kb["Pss"] / 1024, 1),
                    }
                )
        workers: list[float] = [r["rss_mb"] for r in rows if r["role"] == "worker"]
        out[f"anbao-{n}"] = {
            "processes": sorted(rows, key=lambda r: r["role"]),
            "rss_mb_total": round(sum(r["rss_mb"] for r in rows), 1),
            "pss_mb_total": round(sum(r["pss_mb"] for r in rows), 1),
            "worker_rss_mb_max": max(workers) if workers else None,
        }
    return out


def _kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in kB, from ``/proc/<pid>/smaps_rollup``; (0, 0) once it is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
        kb = {ln.split(":")[0]: int(ln.split()[1]) for ln in rollup}
        return kb["Rss"], kb["Pss"]
    return 0, 0


def _family(leaders: list[int]) -> set[int]:
    """Every process in the process groups of ``leaders`` or below them (by parent)."""
    procs: dict[int, tuple[int, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            procs[int(stat.parent.name)] = (int(fields[1]), int(fields[2]))
    found = {p for p, (_, group) in procs.items() if group in leaders} | set(leaders)
    grew = True
    while grew:
        more = {p for p, (parent, _) in procs.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found & procs.keys()


def _pids(*files: Path) -> list[int]:
    out = []
    for file in files:
        with contextlib.suppress(OSError, ValueError):
            out.append(int(file.read_text().split()[0]))
    return out


def _cluster_memory(cluster: Cluster) -> dict[str, Any]:
    """RSS and PSS (MB) of every process of the whole cluster, by piece. PSS shares a page among
    the processes mapping it, so its sum is the memory the cluster takes; the RSS sum counts
    shared pages once per process. PostgreSQL is the shared server (other databases included)."""
    state = Path(cluster.env["ANBAO_CONFIG_1"]).parent.parent.parent
    kc_state = Path(cluster.env["ANBAO_CA"]).parent.parent
    pg = [
        Path("/var/lib/anbao-pg/data/postmaster.pid"),
        Path.home() / ".cache/anbao/pg/data/postmaster.pid",
    ]
    es = (
        sorted(state.glob("elasticsearch*.pid"))
        or sorted(state.glob("es*.pid"))
        or [Path.home() / ".cache/anbao/run/elasticsearch.pid"]
    )
    pieces = {
        "keycloak": _pids(kc_state / "kc1.pid", kc_state / "kc2.pid"),
        "keycloak_haproxy": _pids(kc_state / "haproxy.pid"),
        "elasticsearch": _pids(*es),
        "postgresql": _pids(*pg),
        "anbao": [cluster.group(1), cluster.group(2)],
        "anbao_haproxy": [_haproxy_pid(cluster)],
    }
    out: dict[str, Any] = {}
    for name, leaders in pieces.items():
        sizes = [_kb(p) for p in _family(leaders)]
        out[name] = {
            "processes": len(sizes),
            "rss_mb": round(sum(r for r, _ in sizes) / 1024),
            "pss_mb": round(sum(p for _, p in sizes) / 1024),
        }
    out["total"] = {k: sum(v[k] for v in out.values()) for k in ("processes", "rss_mb", "pss_mb")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--drain-deadline", type=float, default=600.0)
    args = parser.parse_args()
    with running() as cluster:
        person = auditor(cluster)
        store = Store(cluster)
        rounds: list[dict[str, Any]] = []
        try:
            _round(
                cluster,
                store,
                person.token(),
                2,
                argparse.Namespace(**{**vars(args), "seconds": 3}),
            )
            for i in range(args.rounds):
                for nodes in (2, 1) if i % 2 == 0 else (1, 2):
                    rounds.append(_round(cluster, store, person.token(), nodes, args))
        finally:
            _haproxy(cluster, "enable server anbao_nodes/anbao-2")
        time.sleep(5)
        memory = _memory(cluster)
        whole = _cluster_memory(cluster)
    print(json.dumps({**_report(rounds, memory, args), "cluster_memory": whole}, indent=2))


def _median(rounds: list[dict[str, Any]], nodes: int, key: str) -> float:
    return float(statistics.median(r[key] for r in rounds if r["nodes"] == nodes))


def _report(
    rounds: list[dict[str, Any]], memory: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    two = {
        k: _median(rounds, 2, k)
        for k in ("events_per_s_loaded", "events_per_s_end_to_end", "cpu_ms_per_event_anbao")
    }
    one = {k: _median(rounds, 1, k) for k in two}
    per_core = 1000 / two["cpu_ms_per_event_anbao"]
    workers = [m["worker_rss_mb_max"] for m in memory.values() if m["worker_rss_mb_max"]]
    return {
        "bench": "cluster_ingest",
        "machine": {"cores": os.cpu_count(), "loadavg": os.getloadavg()},
        "load": {
            "tool": "wrk",
            "seconds": args.seconds,
            "connections": args.connections,
            "request": "GET /whoami (bearer token) through HAProxy TLS, one audit event each",
        },
        "two_nodes": two,
        "one_node_reference": one,
        "ratio_two_over_one": {k: round(two[k] / one[k], 3) for k in two},
        "capacity_model": {
            "anbao_events_per_s_per_core": round(per_core, 1),
            "note": (
                "CPU per event of the Anbao processes (serving, spool, shipping); a node of k "
                "cores sustains about k times this before Elasticsearch, Keycloak or the "
                f"balancer limits it. On {os.cpu_count()} cores the two-vs-one ratio shows the "
                "cost of a second node sharing the cores, not the scale of separate machines."
            ),
        },
        "rss_per_worker_mb_max": max(workers) if workers else None,
        "rss_target_mb": 200,
        "memory": memory,
        "rounds": rounds,
    }


if __name__ == "__main__":
    main()
