"""Audit trail benchmarks (issue 5). Prints one JSON document; every figure is a ratio against a
reference measured in the same run, on the same data, on loopback.

Sections (``--sections``, comma-separated; each lives in its own ``bench/audit_*.py`` module):

* ``verify`` (bench/audit_verify.py): ``anbao audit verify`` rate vs a plain point-in-time scan
  of the same index; target >= 0.8. Same figure for the embedded SQLite store.

* ``search`` (bench/audit_search.py): ``GET /audit/events`` p50/p95 vs the same query sent
  directly to Elasticsearch (target <= 1.3) and vs the same compiled SQL on the embedded store.

* ``ingest`` (bench/audit_ingest.py): end-to-end pipeline rate (recorder -> spool -> shipper ->
  store, until searchable) vs raw ``elasticsearch.helpers.bulk`` of the same documents (target
  >= 0.7); for SQLite vs raw ``write_documents``.

* ``cost`` (bench/audit_cost.py): the real service (uvicorn, wrk) with the audit middleware vs
  without: Anbao's total CPU per request, everything drained to the store (target <= 1.5), and
  the sustained request rate over a minute with the spool not growing; per shipper placement.

More sections are added by registering a function in ``SECTIONS``: ``run(args, kind, tmp)``.

    python bench/audit.py [--events 1000000] [--stores sqlite,elasticsearch] [--rounds 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would shadow the `audit` package with this very file.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse
import json
import platform
import tempfile
import uuid
from collections.abc import Callable
from typing import Any

from audit.integrity.elasticsearch import RawReader, WithRawScan
from audit.integrity.sqlite_raw import SqliteRawReader, WithSqliteRawScan
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection, elasticsearch_client
from audit.stores.sqlite import SqliteAuditStore
from bench import audit_cost, audit_ingest, audit_search, audit_verify
from bench.audit_ingest import es_env


def section_verify(args: argparse.Namespace, kind: str, tmp: Path) -> dict[str, Any]:
    if kind == "sqlite":
        path = tmp / "events.sqlite3"
        store = SqliteAuditStore(path)
        try:
            return audit_verify.bench_store(
                kind,
                store,
                tmp,
                n=args.events,
                rounds=args.rounds,
                scan=lambda: audit_verify.sqlite_snapshot_scan(path),
                verify_store=WithSqliteRawScan(store, SqliteRawReader(path)),
                variants={
                    "parsed": (
                        "verify over the store's parsed scan (no raw reader); one round",
                        store,
                    )
                },
            )
        finally:
            store.close()
    env = es_env()
    es = ElasticsearchAuditStore(
        EsConnection(
            env["ELASTICSEARCH_URL"],
            env["ELASTICSEARCH_USERNAME"],
            env["ELASTICSEARCH_PASSWORD"],
            timeout=120.0,
        ),
        prefix=f"bench-verify-{uuid.uuid4().hex[:8]}",
        development=True,
    )
    raw = elasticsearch_client(
        EsConnection(
            env["ELASTICSEARCH_URL"], env["ELASTICSEARCH_USERNAME"], env["ELASTICSEARCH_PASSWORD"]
        ),
        timeout=120.0,
        raw=True,
    )
    try:
        return audit_verify.bench_store(
            kind,
            es,
            tmp,
            n=args.events,
            rounds=args.rounds,
            scan=lambda: audit_verify.es_pit_scan(es),
            verify_store=WithRawScan(es, RawReader(raw, es.pattern)),
            variants={
                "parsed": ("verify over the store's parsed scan (no raw reader); one round", es)
            },
        )
    finally:
        raw.close()
        es.delete_all()
        es.close()


SECTIONS: dict[str, Callable[[argparse.Namespace, str, Path], dict[str, Any]]] = {
    "verify": section_verify,
    "search": audit_search.section_search,
    # ingest vs raw helpers.bulk / raw SQLite writes; API request rate with vs without the audit
    # the real service with and without auditing (uvicorn + wrk); see bench/audit_cost.py
    "ingest": audit_ingest.section_ingest,
    "cost": audit_cost.section_cost,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--stores", default="sqlite,elasticsearch")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cost-rounds", type=int, default=3, help="cost: interleaved rounds")
    parser.add_argument("--seconds", type=int, default=10, help="cost: wrk seconds per round")
    parser.add_argument(
        "--sustained-seconds", type=int, default=60, help="cost: wrk seconds of the sustained run"
    )
    parser.add_argument("--connections", type=int, default=32, help="cost: wrk connections")
    parser.add_argument(
        "--placement",
        choices=audit_ingest.PLACEMENTS,
        default=audit_ingest.PLACEMENTS[0],
        help="cost: the server's serving thread and wrk on a CPU each (pinned) or not",
    )
    parser.add_argument("--fsync", default="batch", help="cost: the spool's fsync policy")
    parser.add_argument(
        "--shipping",
        default=",".join(audit_cost.SHIPPING),
        help="cost: shipper placements (a thread of the worker, its child process)",
    )
    args = parser.parse_args()
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "events": args.events,
    }
    for name in args.sections.split(","):
        result[name] = {}
        for kind in args.stores.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                result[name][kind] = SECTIONS[name](args, kind, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
