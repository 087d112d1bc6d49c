"""Search latency: ``GET /audit/events`` vs the same query sent straight to the store.

For each store the same events are loaded once; then each query of ``QUERIES`` runs through
the search API (a real uvicorn server on loopback: bearer-token check, parse, compile, run,
mask, JSON) and, interleaved with it, as the reference:

* Elasticsearch: the identical request body (the DSL the API compiles, same sort, size,
  ``track_total_hits``) sent with the official client over HTTP — target p50/p95 ratio <= 1.3;
* SQLite: the identical compiled SQL (page + capped count) on a plain ``sqlite3`` connection,
  in-process, no HTTP — the floor any API over this store pays on top.

Also reported: the service alone in-process (``AuditSearch.search``, no HTTP) vs the same
reference, which isolates what the query layer costs from what HTTP costs.

    python bench/audit_search.py [--events 1000000] [--stores sqlite,elasticsearch] [--reps 40]

or as the ``search`` section of bench/audit.py.
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
import itertools
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from anbao.wiring.search import ensure_search_mappings
from audit.search.elasticsearch import ElasticsearchSearch
from audit.search.model import TOTAL_CAP, SearchSpec
from audit.search.query.parse import parse
from audit.search.query.sql import compile_where, register_functions
from audit.search.service import AuditSearch, Caller, SearchParams
from audit.search.sqlite import SqliteSearch, ensure_schema
from audit.search.testing import sample_events
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from audit.stores.sqlite import SqliteAuditStore
from bench.audit_ingest import es_env
from iam.tokens.testing import LocalIssuer

#: What analysts ask most: recent activity, failures, a user, free text, a prefix, a range.
QUERIES = (
    "",
    "event.action:login AND event.outcome:failure",
    "user.name:alice AND NOT source.ip:10.0.0.0/8",
    "denied",
    '"access denied" OR expired',
    "user.name:adm*",
    "http.response.status_code>=500 AND @timestamp>=2026-11-10",
)
SIZE = 50
BATCH = 5000
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
ISSUER = "https://bench.invalid/realms/anbao"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load(store: Any, events: int) -> float:
    started = time.perf_counter()
    batch = []
    for event in sample_events(events, seed=11):
        batch.append(event)
        if len(batch) == BATCH:
            store.write_batch(batch)
            batch = []
    if batch:
        store.write_batch(batch)
    store.refresh()
    return time.perf_counter() - started


@contextlib.contextmanager
def _server(env: dict[str, str], tmp: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.audit_search_app:make_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(
                "the bench server did not start: " + (tmp / "server.log").read_text()
            )
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _server_env(kind: str, tmp: Path, extra: dict[str, str], issuer: LocalIssuer) -> dict[str, str]:
    jwks = tmp / "jwks.json"
    jwks.write_text(json.dumps(issuer.fetch()), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANBAO_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "BENCH_JWKS": str(jwks),
            "BENCH_ISSUER": ISSUER,
            "ANBAO_ENVIRONMENT": "development",
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_RECORD_REQUESTS": "false",
            "ANBAO_AUDIT_STORE": kind,
            "ANBAO_AUDIT_RETENTION_DAYS": "1",
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "keyring.json"),
            **extra,
        }
    )
    return env


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3), "p95_ms": round(p95 * 1000, 3)}


def _measure(sides: dict[str, Callable[[str], object]], reps: int) -> dict[str, dict[str, Any]]:
    """Per query, each side ``reps`` times, interleaved (so drift hits every side alike)."""
    out: dict[str, dict[str, Any]] = {}
    pooled: dict[str, list[float]] = {name: [] for name in sides}
    for query in QUERIES:
        samples: dict[str, list[float]] = {name: [] for name in sides}
        for run in sides.values():  # warm-up: caches and connections on every side
            for _ in range(3):
                run(query)
        for _, (name, run) in itertools.product(range(reps), sides.items()):
            started = time.perf_counter()
            run(query)
            samples[name].append(time.perf_counter() - started)
        out[query or "(all events)"] = {name: _percentiles(s) for name, s in samples.items()}
        for name, s in samples.items():
            pooled[name] += s
    out["_all_queries"] = {name: _percentiles(s) for name, s in pooled.items()}
    return out


def _ratios(table: dict[str, dict[str, Any]], api: str, ref: str) -> dict[str, float]:
    row = table["_all_queries"]
    return {
        "p50": round(row[api]["p50_ms"] / row[ref]["p50_ms"], 3),
        "p95": round(row[api]["p95_ms"] / row[ref]["p95_ms"], 3),
    }


def _api_side(url: str, token: str) -> tuple[httpx.Client, Callable[[str], object]]:
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def run(query: str) -> object:
        response = http.get("/audit/events", params={"q": query, "size": str(SIZE)})
        response.raise_for_status()
        return response.content

    return http, run


def _service_side(backend: Any) -> Callable[[str], object]:
    service = AuditSearch(backend, clock=lambda: NOW)
    caller = Caller("bench", frozenset({"auditor"}), "/")
    return lambda q: service.search(caller, SearchParams(q=q, size=SIZE))


def bench_sqlite(
    events: int, reps: int, tmp: Path, issuer: LocalIssuer, token: str
) -> dict[str, Any]:
    path = tmp / "audit.sqlite3"
    store = SqliteAuditStore(path)
    ensure_schema(path)
    load_s = _load(store, events)
    store.close()
    raw = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    register_functions(raw)
    backend = SqliteSearch(path, clock=lambda: NOW)
    layout = backend.layout

    def direct(query: str) -> object:
        where, params = compile_where(parse(query), NOW, layout)
        rows = raw.execute(
            f"SELECT doc, ts, event_id FROM events WHERE {where} ORDER BY ts DESC, event_id ASC LIMIT ?",  # noqa: S608
            [*params, SIZE],
        ).fetchall()
        raw.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM events WHERE {where} LIMIT ?)",  # noqa: S608
            [*params, TOTAL_CAP + 1],
        ).fetchone()
        return [json.loads(r[0]) for r in rows]

    env = _server_env("sqlite", tmp, {"ANBAO_AUDIT_SQLITE_PATH": str(path)}, issuer)
    with _server(env, tmp) as url:
        http, api = _api_side(url, token)
        with http:
            table = _measure(
                {"api": api, "service": _service_side(backend), "raw_sql": direct}, reps
            )
    raw.close()
    backend.close()
    return {
        "load_seconds": round(load_s, 1),
        "reference": "compiled SQL on a plain sqlite3 connection, in-process (no HTTP)",
        "ratio_api_vs_raw_sql": _ratios(table, "api", "raw_sql"),
        "ratio_service_vs_raw_sql": _ratios(table, "service", "raw_sql"),
        "per_query": table,
    }


def bench_elasticsearch(
    events: int, reps: int, tmp: Path, issuer: LocalIssuer, token: str
) -> dict[str, Any]:
    env_es = es_env()
    prefix = f"bench-search-{uuid.uuid4().hex[:8]}"
    store = ElasticsearchAuditStore(
        EsConnection(
            env_es["ELASTICSEARCH_URL"],
            env_es["ELASTICSEARCH_USERNAME"],
            env_es["ELASTICSEARCH_PASSWORD"],
            timeout=120.0,
        ),
        prefix=prefix,
        development=True,
        retention_days=1,
    )
    try:
        ensure_search_mappings(store)
        load_s = _load(store, events)
        store.client.indices.forcemerge(index=store.pattern, max_num_segments=1)
        backend = ElasticsearchSearch(store.client, store.pattern, clock=lambda: NOW)

        def direct(query: str) -> object:
            body = backend.body(SearchSpec(parse(query), size=SIZE))
            return store.client.search(index=store.pattern, ignore_unavailable=True, **body).body

        env = _server_env(
            "elasticsearch",
            tmp,
            {
                "ANBAO_AUDIT_INDEX_PREFIX": prefix,
                "ANBAO_ELASTICSEARCH_URL": env_es["ELASTICSEARCH_URL"],
                "ANBAO_ELASTICSEARCH_USERNAME": env_es["ELASTICSEARCH_USERNAME"],
                "ANBAO_ELASTICSEARCH_PASSWORD": env_es["ELASTICSEARCH_PASSWORD"],
            },
            issuer,
        )
        with _server(env, tmp) as url:
            http, api = _api_side(url, token)
            with http:
                table = _measure(
                    {"api": api, "service": _service_side(backend), "direct_es": direct}, reps
                )
        return {
            "load_seconds": round(load_s, 1),
            "reference": "the same DSL body sent with the official client over HTTP",
            "ratio_api_vs_direct_es": _ratios(table, "api", "direct_es"),
            "ratio_service_vs_direct_es": _ratios(table, "service", "direct_es"),
            "target_api_ratio_max": 1.3,
            "per_query": table,
        }
    finally:
        store.delete_all()
        store.close()


def section_search(args: argparse.Namespace, kind: str, tmp: Path) -> dict[str, Any]:
    """Entry point for bench/audit.py (``SECTIONS["search"]``)."""
    issuer = LocalIssuer(issuer=ISSUER)
    token = issuer.token(
        time.time(), realm_access={"roles": ["auditor"]}, org_path="/", exp=int(time.time()) + 7200
    )
    reps = getattr(args, "reps", 40)
    run = bench_sqlite if kind == "sqlite" else bench_elasticsearch
    return run(args.events, reps, tmp, issuer, token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--stores", default="sqlite,elasticsearch")
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    result: dict[str, Any] = {"events": args.events, "page_size": SIZE, "queries": list(QUERIES)}
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            result[kind] = section_search(args, kind, Path(tmp))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
