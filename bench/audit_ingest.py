"""Audit ingest figures (issue 5), registered as a section of bench/audit.py; the services'
settings of the ``cost`` section (bench/audit_cost.py).

``ingest``: end-to-end rate of the audit pipeline — producers call the recorder, each event is
durable in the spool (fsync policy ``batch``) before ``record`` returns, the shipper moves the
spool to the store in bulk — until the last event is searchable; vs the reference, the same
documents written straight to the store: ``elasticsearch.helpers.bulk`` (default chunking) for
Elasticsearch, :meth:`SqliteAuditStore.write_documents` in 5,000-event transactions for SQLite.
Both sides build the same events from the same generator inside the timed region.
Target >= 0.7.

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
import datetime as dt
import functools
import json
import os
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
from audit.recording.spool import Spool, SpoolConfig
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


# -- the real service (bench/audit_cost.py) ----------------------------------------------------------------------------------


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


def _placement(args: argparse.Namespace) -> tuple[int, int] | None:
    """(the servers' CPU, wrk's CPU) when pinned, else ``None``.

    Why pin: left to the scheduler, wrk and the server sometimes share a CPU for a whole run
    (one context switch per request instead of a few per second): on a 2-CPU machine that
    decides a run's rate more than anything measured. Only the server's serving thread is
    pinned; its other threads, its children (the shipper) and the stores go where the
    scheduler puts them, as in production.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if args.placement == "free" or len(cpus) < 2:
        return None
    return cpus[0], cpus[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,elasticsearch")
    args = parser.parse_args()
    result: dict[str, Any] = {"events": args.events, "ingest": {}}
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            result["ingest"][kind] = section_ingest(args, kind, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
