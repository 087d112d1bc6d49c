"""Audit ingest and middleware figures (issue 5), registered as sections of bench/audit.py.

``ingest``: end-to-end rate of the audit pipeline — producers call the recorder, each event is
durable in the spool (fsync policy ``batch``) before ``record`` returns, the shipper moves the
spool to the store in bulk — until the last event is searchable; vs the reference, the same
documents written straight to the store: ``elasticsearch.helpers.bulk`` (default chunking) for
Elasticsearch, :meth:`SqliteAuditStore.write_documents` in 5,000-event transactions for SQLite.
Both sides build the same events from the same generator inside the timed region.
Target >= 0.7.

``middleware``: requests per second of the real service (``anbao.asgi`` through uvicorn (uvloop
+ httptools, one worker) loaded by wrk over loopback; the health probe, an API call refused for
want of a token and an authenticated one, :data:`ENDPOINTS`) with the audit middleware recording
every request (and the shipper running), vs the same service with
``audit.record_requests = false``; for each fsync policy and shipper placement (a thread of the
worker, or its niced child process), in interleaved rounds (median of the paired ratios, as in
bench/http.py). Target >= 0.9.

    python bench/audit_ingest.py [--events 1000000] [--stores sqlite,elasticsearch]
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
import datetime as dt
import functools
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

from elasticsearch import helpers

from audit.model import AuditEvent, HttpInfo, Outcome, ResourceRef, UserInfo, format_timestamp
from audit.ports import AuditStore, RawDocument
from audit.recording.recorder import Recorder
from audit.recording.shipper import Shipper
from audit.recording.spool import FsyncPolicy, Spool, SpoolConfig
from audit.stores.elasticsearch import ElasticsearchAuditStore, index_for
from audit.stores.es_client import EsConnection
from audit.stores.sqlite import SqliteAuditStore

CHUNK = 1000
_ACTIONS = ("seal.use", "seal.create", "user.login", "policy.change", "data.read")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


@functools.cache
def es_env() -> dict[str, str]:
    """The local Elasticsearch's address and credentials; started first if it is not running
    (``deploy/local/elasticsearch.sh start`` is idempotent), as the benches start Keycloak."""
    script = str(ROOT / "deploy/local/elasticsearch.sh")
    subprocess.run([script, "start"], capture_output=True, check=True, timeout=900)
    out = subprocess.run([script, "env"], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def es_store(prefix: str) -> ElasticsearchAuditStore:
    env = es_env()
    return ElasticsearchAuditStore(
        EsConnection(
            env["ELASTICSEARCH_URL"],
            env["ELASTICSEARCH_USERNAME"],
            env["ELASTICSEARCH_PASSWORD"],
            timeout=120.0,
        ),
        prefix=f"{prefix}-{uuid.uuid4().hex[:8]}",
        development=True,
    )


def events(n: int, run: str) -> Iterator[AuditEvent]:
    """Realistic API/security events (~600 bytes of canonical JSON each)."""
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for i in range(n):
        yield AuditEvent(
            id=f"{run}-{i:08d}",
            timestamp=t0 + dt.timedelta(milliseconds=7 * i),
            action=_ACTIONS[i % 5],
            outcome=Outcome.SUCCESS if i % 11 else Outcome.FAILURE,
            category=("iam",),
            type=("access",),
            reason="" if i % 11 else "policy denied",
            user=UserInfo(f"u-{i % 997}", f"user{i % 997}", ("auditor", "seal-user")),
            org_path=f"/acme/branch-{i % 13}/team-{i % 7}",
            source_ip=f"10.{i % 200}.{(i // 200) % 250}.{i % 251}",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AnbaoBench/1.0",
            trace_id=f"{i:032x}",
            http=HttpInfo("POST", f"/seals/k-{i % 503}/use", 200 if i % 11 else 403),
            resource=ResourceRef("seal", f"k-{i % 503}", "Contract seal"),
            duration_ns=1_000_000 + i % 50_000,
        )


def _chunks(n: int, run: str) -> Iterator[list[AuditEvent]]:
    chunk: list[AuditEvent] = []
    for event in events(n, run):
        chunk.append(event)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def raw_es(store: ElasticsearchAuditStore, n: int) -> float:
    store.install()

    def actions() -> Iterator[dict[str, Any]]:
        for i, event in enumerate(events(n, "raw")):
            doc = event.with_sequence(i).to_document()
            yield {
                "_op_type": "create",
                "_index": index_for(store.prefix, doc["@timestamp"]),
                "_id": event.id,
                "_source": doc,
            }

    start = time.perf_counter()
    ok, _ = helpers.bulk(store.client, actions(), stats_only=True)
    store.refresh()
    elapsed = time.perf_counter() - start
    _check(ok == n, f"raw bulk stored {ok} of {n}")
    return elapsed


def raw_sqlite(store: SqliteAuditStore, n: int) -> float:
    start = time.perf_counter()
    seq = 0
    for chunk in _chunks(n, "raw"):
        docs = []
        for event in chunk:
            docs.append(
                RawDocument(
                    event.id,
                    format_timestamp(event.timestamp),
                    event.with_sequence(seq).canonical_bytes(),
                )
            )
            seq += 1
        store.write_documents(docs)
    elapsed = time.perf_counter() - start
    _check(store.count() == n, "raw SQLite write lost events")
    return elapsed


def pipeline(store: AuditStore, tmp: Path, n: int) -> dict[str, float]:
    """Recorder -> spool (fsync per batch) -> shipper -> store, until the last is searchable."""
    spool = Spool(
        SpoolConfig(path=tmp / f"spool-{uuid.uuid4().hex[:6]}.sqlite3", capacity_bytes=8 << 30)
    )
    recorder = Recorder(spool)
    shipper = Shipper(spool, store, idle_wait=0.01)
    shipper.start()
    start = time.perf_counter()
    for chunk in _chunks(n, "e2e"):
        recorder.record_many(chunk)
    produced = time.perf_counter() - start
    while spool.stats().pending_events:
        time.sleep(0.01)
    store.refresh()
    elapsed = time.perf_counter() - start
    shipper.stop()
    recorder.close()
    spool.close()
    _check(sum(store.streams().values()) == n, "the pipeline lost or duplicated events")
    return {"seconds": elapsed, "producers_done_seconds": produced}


def section_ingest(args: argparse.Namespace, kind: str, tmp: Path) -> dict[str, Any]:
    n = args.events
    if kind == "elasticsearch":
        ref_store, e2e_store = es_store("bench-ingest-raw"), es_store("bench-ingest-e2e")
        try:
            raw = raw_es(ref_store, n)
            ref_store.delete_all()
            e2e = pipeline(e2e_store, tmp, n)
        finally:
            for s in (ref_store, e2e_store):
                s.delete_all()
                s.close()
        reference = "elasticsearch.helpers.bulk (create, chunk_size=500)"
    else:
        ref_sql = SqliteAuditStore(tmp / "raw.sqlite3")
        e2e_sql = SqliteAuditStore(tmp / "e2e.sqlite3")
        try:
            raw = raw_sqlite(ref_sql, n)
            e2e = pipeline(e2e_sql, tmp, n)
        finally:
            ref_sql.close()
            e2e_sql.close()
        reference = "SqliteAuditStore.write_documents, 5,000 per transaction"
    return {
        "events": n,
        "reference": reference,
        "reference_events_per_second": round(n / raw),
        "pipeline_events_per_second": round(n / e2e["seconds"]),
        "pipeline_producers_done_events_per_second": round(n / e2e["producers_done_seconds"]),
        "ratio": round(raw / e2e["seconds"], 3),
        "target": ">= 0.7",
        "fsync": "batch",
    }


# -- middleware ----------------------------------------------------------------------------------


def _service_env(
    kind: str, tmp: Path, audited: bool, fsync: str, shipping: str = "thread"
) -> dict[str, str]:
    tmp = tmp / uuid.uuid4().hex[:8]  # each run its own spool, events and Merkle log
    tmp.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ANBAO_KEYCLOAK_REQUIRED": "false",
        "ANBAO_SERVER_ACCESS_LOG": "false",
        "ANBAO_AUDIT_RECORD_REQUESTS": "true" if audited else "false",
        "ANBAO_AUDIT_SKIP_PATHS": "",
        "ANBAO_AUDIT_SPOOL_FSYNC": fsync,
        "ANBAO_AUDIT_SHIP_IN_SUBPROCESS": "true" if shipping == "subprocess" else "false",
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
        "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "events.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "fields.json"),
        # the service's other SQLite files stay in the bench's own folder too
        "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp / 'compliance.sqlite3'}",
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "siem-alerts.sqlite3"),
    }
    if kind == "elasticsearch":
        es = es_env()
        env |= {
            "ANBAO_AUDIT_STORE": "elasticsearch",
            "ANBAO_ELASTICSEARCH_URL": es["ELASTICSEARCH_URL"],
            "ANBAO_ELASTICSEARCH_USERNAME": es["ELASTICSEARCH_USERNAME"],
            "ANBAO_ELASTICSEARCH_PASSWORD": es["ELASTICSEARCH_PASSWORD"],
            "ANBAO_AUDIT_INDEX_PREFIX": f"bench-mw-{uuid.uuid4().hex[:8]}",
        }
    return env


def _drain_seconds(spool_path: str, timeout: float = 180.0) -> float:
    """Seconds until the shipper has emptied the spool and its request journal."""
    start = time.perf_counter()
    spool = Spool(SpoolConfig(path=Path(spool_path), fsync=FsyncPolicy.INTERVAL))
    try:
        while time.perf_counter() - start < timeout:
            if spool.stats().empty:
                return time.perf_counter() - start
            time.sleep(0.05)
    finally:
        spool.close()
    raise RuntimeError(f"the spool did not drain in {timeout:.0f} s")


def _machine_busy_fraction(seconds: float) -> float:
    """The share of the machine's CPU time that was not idle over ``seconds`` (Linux)."""

    def ticks() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    total, idle = ticks()
    time.sleep(seconds)
    total2, idle2 = ticks()
    return 1 - (idle2 - idle) / max(total2 - total, 1)


def _settle(limit: float = 15.0) -> None:
    """Wait until the machine is quiet (under 10% busy for half a second): the work a load left
    behind (Elasticsearch refreshes and merges, WAL checkpoints) must not fall into the next
    server's round."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and _machine_busy_fraction(0.5) > 0.1:
        pass


#: Middleware: the server's serving thread and wrk each on a CPU of their own, or unpinned.
PLACEMENTS: tuple[str, ...] = ("pinned", "free")

#: What the middleware section loads: path and the status the service answers with.
ENDPOINTS: dict[str, tuple[str, int]] = {
    # the cheapest request the service serves, so the audit's whole cost shows (audited on
    # purpose: the default audit.skip_paths leaves the probes out)
    "healthz": ("/healthz", 200),
    # an API call refused for want of a token: 401 problem+json, audited as a failure
    "refused": ("/audit/events", 401),
    # an authenticated API call: each request one of 64 Keycloak access tokens, as 64 clients
    # reusing theirs (the service's verified-token cache applies, as in production)
    "whoami": ("/whoami", 200),
}


def section_middleware(args: argparse.Namespace, kind: str, tmp: Path) -> dict[str, Any]:
    """Requests through uvicorn (uvloop, httptools, 1 worker), loaded by wrk, per endpoint of
    :data:`ENDPOINTS`.

    Every server (the reference without audit, one per fsync policy and shipper placement) is
    started once; rounds are short and interleaved, the order reversed every round, and after
    each audited load the bench waits until its shipper has emptied the spool, so no server is
    measured while another one's shipper works. ``ratio``: the median over rounds of the rate
    during the load (the spool absorbs the burst) over the reference's rate in the same round;
    ``sustained_ratio``: the same with the load's requests spread over the load time plus the
    time the shipper then needed — the rate the whole pipeline keeps up with indefinitely.
    """
    from bench.http import _free_port, _server, _uvicorn  # noqa: PLC0415 - wrk helpers

    placement = _placement(args)
    endpoints = args.endpoints.split(",")
    variants = [(f, s) for f in args.fsync.split(",") for s in args.shipping.split(",")]
    runs: dict[str, dict[str, str]] = {"without": _service_env(kind, tmp, False, "batch")}
    for fsync, shipping in variants:
        runs[f"fsync_{fsync}_shipper_{shipping}"] = _service_env(kind, tmp, True, fsync, shipping)
    for env in runs.values():
        env["ANBAO_AUDIT_SHIPPER_NICE"] = str(args.shipper_nice)
        env["ANBAO_AUDIT_SHIP_DEFER_SECONDS"] = str(args.ship_defer_seconds)
    with contextlib.ExitStack() as stack:
        scripts: dict[str, Path] = {}
        if "whoami" in endpoints:
            keycloak, scripts["whoami"] = stack.enter_context(_keycloak_clients(tmp))
            for env in runs.values():
                env.update(keycloak)
        bases = {}
        for name, env in runs.items():
            port = _free_port()
            argv = _uvicorn("anbao.asgi:app", port)
            url, pid = stack.enter_context(_server(argv, port, env, tmp / f"{name}.log"))
            bases[name] = (url.removesuffix("/healthz"), pid)
            if placement is not None:
                os.sched_setaffinity(pid, {placement[0]})  # its main thread only: the serving one
        rounds = _interleaved(args, endpoints, runs, bases, scripts, placement)
    out: dict[str, Any] = {
        "tool": "wrk",
        "placement": "free"
        if placement is None
        else f"server's serving thread on CPU {placement[0]}, wrk on CPU {placement[1]}",
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": args.middleware_rounds,
        "shipper_nice": args.shipper_nice,
        "ship_defer_seconds": args.ship_defer_seconds,
    }
    for endpoint in endpoints:
        reference = rounds[endpoint, "without"]
        path, status = ENDPOINTS[endpoint]
        out[endpoint] = {
            "request": f"GET {path} -> {status}",
            "requests_per_second_without_audit": statistics.median(r["rps"] for r in reference),
            "rounds_rps_without_audit": [r["rps"] for r in reference],
            "reference_server_cpu_us_per_request": statistics.median(
                r["cpu_us_per_request"] for r in reference
            ),
        }
        for name in runs:
            if name != "without":
                out[endpoint][name] = _compared(rounds[endpoint, name], reference)
    if kind == "elasticsearch":
        for env in runs.values():
            prefix = env["ANBAO_AUDIT_INDEX_PREFIX"]
            store = es_store(prefix)
            store.prefix, store.pattern = prefix, f"{prefix}-*"
            store.delete_all()
            store.close()
    return out


def _placement(args: argparse.Namespace) -> tuple[int, int] | None:
    """(the servers' CPU, wrk's CPU) when pinned, else ``None``.

    Why pin: left to the scheduler, wrk and the server sometimes share a CPU for a whole run
    (one context switch per request instead of a few per second, a quarter of the rate): on
    this 2-CPU machine that decided a run's rate more than anything measured, reference or not.
    Only the server's serving thread is pinned; its other threads, its children (the shipper)
    and the stores go where the scheduler puts them, as in production.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if args.placement == "free" or len(cpus) < 2:
        return None
    return cpus[0], cpus[1]


def _interleaved(  # noqa: PLR0917 - the bench's own plumbing
    args: argparse.Namespace,
    endpoints: list[str],
    runs: dict[str, dict[str, str]],
    bases: dict[str, tuple[str, int]],
    scripts: dict[str, Path],
    placement: tuple[int, int] | None,
) -> dict[tuple[str, str], list[dict[str, float]]]:
    """Each round loads every server on every endpoint, the servers' order reversed every
    round; after each audited load, waits for its shipper to empty the spool."""
    rounds: dict[tuple[str, str], list[dict[str, float]]] = {
        (endpoint, name): [] for endpoint in endpoints for name in runs
    }
    for endpoint in endpoints:
        for name in runs:
            _load(bases[name], endpoint, 1, args, scripts, placement)  # warm-up
            if name != "without":
                _drain_seconds(runs[name]["ANBAO_AUDIT_SPOOL_PATH"])
    _settle()
    for number in range(args.middleware_rounds):
        for endpoint in endpoints:
            order = list(runs) if number % 2 == 0 else list(reversed(runs))
            for name in order:
                run = _load(bases[name], endpoint, args.seconds, args, scripts, placement)
                drain = 0.0
                if name != "without":
                    drain = _drain_seconds(runs[name]["ANBAO_AUDIT_SPOOL_PATH"])
                _settle()
                run["drain_seconds"] = drain
                run["sustained_rps"] = run["requests"] / (run["requests"] / run["rps"] + drain)
                rounds[endpoint, name].append(run)
    return rounds


def _load(  # noqa: PLR0917 - the bench's own plumbing
    base: tuple[str, int],
    endpoint: str,
    seconds: int,
    args: argparse.Namespace,
    scripts: dict[str, Path],
    placement: tuple[int, int] | None,
) -> dict[str, float]:
    from bench.http import _wrk  # noqa: PLC0415 - wrk helpers

    url, pid = base
    path, status = ENDPOINTS[endpoint]
    wrk_cpu = None if placement is None else placement[1]
    run = _wrk(url + path, seconds, args.connections, pid, scripts.get(endpoint), cpu=wrk_cpu)
    unexpected = run["errors"] if status < 300 else run["requests"] - run["errors"]
    _check(unexpected == 0, f"{endpoint}: {unexpected} answers other than {status}")
    return run


def _compared(mine: list[dict[str, float]], reference: list[dict[str, float]]) -> dict[str, Any]:
    paired = list(zip(mine, reference, strict=True))
    return {
        "requests_per_second_with_audit": statistics.median(r["rps"] for r in mine),
        "ratio": round(statistics.median(r["rps"] / b["rps"] for r, b in paired), 3),
        "rounds_ratio": [round(r["rps"] / b["rps"], 3) for r, b in paired],
        "server_cpu_us_per_request": statistics.median(r["cpu_us_per_request"] for r in mine),
        "p99_ms": statistics.median(r["p99_ms"] for r in mine),
        "spool_drain_seconds_after_load": round(
            statistics.median(r["drain_seconds"] for r in mine), 2
        ),
        "sustained_ratio": round(
            statistics.median(r["sustained_rps"] / b["rps"] for r, b in paired), 3
        ),
        "target": ">= 0.9",
    }


@contextlib.contextmanager
def _keycloak_clients(tmp: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A throw-away realm on the local Keycloak (started if need be), the service's settings
    for it, and a wrk script that sends one of its clients' tokens with each request."""
    from bench.iam import LUA, POOL, BenchRealm, _keycloak_env  # noqa: PLC0415 - Keycloak only here

    with BenchRealm(_keycloak_env()) as realm:
        tokens = tmp / "tokens.txt"
        tokens.write_text("\n".join(realm.tokens(POOL)) + "\n")
        script = tmp / "tokens.lua"
        script.write_text(LUA % tokens)
        yield (
            {
                "ANBAO_KEYCLOAK_URL": realm.url,
                "ANBAO_KEYCLOAK_REALM": realm.name,
                "ANBAO_KEYCLOAK_AUDIENCE": realm.audience,
            },
            script,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--fsync", default="batch,interval")
    parser.add_argument("--shipping", default="thread,subprocess")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--middleware-rounds", type=int, default=5)
    parser.add_argument("--shipper-nice", type=int, default=10)
    parser.add_argument("--ship-defer-seconds", type=float, default=5.0)
    parser.add_argument("--placement", choices=PLACEMENTS, default=PLACEMENTS[0])
    parser.add_argument("--stores", default="sqlite,elasticsearch")
    parser.add_argument("--sections", default="ingest,middleware")
    args = parser.parse_args()
    sections = {"ingest": section_ingest, "middleware": section_middleware}
    result: dict[str, Any] = {"events": args.events}
    for name in args.sections.split(","):
        result[name] = {}
        for kind in args.stores.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                result[name][kind] = sections[name](args, kind, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
