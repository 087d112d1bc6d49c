"""Elasticsearch storage per million audit events (issue 20, capacity planning).

Stores ``--events`` representative events (the generator of bench/audit_ingest.py: API and
security events, ~600 bytes of canonical JSON each, with random UUIDv7 event ids and random
trace ids as the recorder and the middleware give them: sequential ones compress too well) through the real audit store
(:class:`ElasticsearchAuditStore`, bulk ``create`` in 5,000-event batches as the shipper sends
them, the index template's ``best_compression`` codec), force-merges the index to one segment
per shard, and reads ``_stats``: the primaries' store size and the total with the replica
(on the three-node cluster of deploy/cluster/elasticsearch.sh the index has one replica).
Anbao's figure is the primaries' size per million events; the reference is the same events'
canonical JSON (what the spool holds), so the ratio is what indexing and compression cost or save.

    python -m bench.es_storage [--events 100000] [--target cluster|local] [--keep]
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse
import dataclasses
import json
import secrets
import subprocess
import time
import uuid
from typing import Any

from audit.ids import uuid7
from audit.model import format_timestamp
from audit.ports import RawDocument
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from bench.audit_ingest import events

BATCH = 5000
MILLION = 1_000_000


def _env(script: str, start: str) -> dict[str, str]:
    path = str(ROOT / script)
    subprocess.run([path, start], capture_output=True, check=True, timeout=900)
    out = subprocess.run([path, "env"], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def connection(target: str) -> EsConnection:
    """The cluster (started if needed, ``ANBAO_CLUSTER_STATE`` honoured) or the local node."""
    if target == "cluster":
        env = _env("deploy/cluster/elasticsearch.sh", "up")
    else:
        env = _env("deploy/local/elasticsearch.sh", "start")
    return EsConnection(
        env["ELASTICSEARCH_URL"],
        env["ELASTICSEARCH_USERNAME"],
        env["ELASTICSEARCH_PASSWORD"],
        ca_file=env.get("ELASTICSEARCH_CA_FILE", ""),
        timeout=300.0,
    )


def store_events(store: ElasticsearchAuditStore, n: int) -> tuple[int, float]:
    """Write ``n`` events in shipper-sized batches; returns their canonical bytes and seconds."""
    raw_bytes = 0
    batch: list[RawDocument] = []
    start = time.perf_counter()
    for i, generated in enumerate(events(n, "storage")):
        ms = int(generated.timestamp.timestamp() * 1000)
        event = dataclasses.replace(
            generated, id=uuid7(ms, secrets.randbits(74)), trace_id=secrets.token_hex(16)
        )
        body = event.with_sequence(i).canonical_bytes()
        raw_bytes += len(body)
        batch.append(RawDocument(event.id, format_timestamp(event.timestamp), body))
        if len(batch) == BATCH:
            _write(store, batch)
            batch = []
    if batch:
        _write(store, batch)
    return raw_bytes, time.perf_counter() - start


def _write(store: ElasticsearchAuditStore, batch: list[RawDocument]) -> None:
    result = store.write_documents(batch)
    if result.created != len(batch):
        raise RuntimeError(f"stored {result.created} of {len(batch)}: {result.rejected[:3]}")


def compact(store: ElasticsearchAuditStore, n: int) -> dict[str, Any]:
    """Every copy allocated, one segment per shard, then the index's store sizes."""
    client = store.client
    health = client.cluster.health(index=store.pattern, wait_for_status="green", timeout="300s")
    store.refresh()
    if store.count() != n:
        raise RuntimeError(f"{store.count()} events searchable, {n} written")
    client.indices.forcemerge(index=store.pattern, max_num_segments=1, wait_for_completion=True)
    client.indices.flush(index=store.pattern)
    stats = client.indices.stats(index=store.pattern, metric="store,docs,segments")["_all"]
    return {
        "cluster_data_nodes": health["number_of_data_nodes"],
        "shards_active": health["active_shards"],
        "primary_bytes": stats["primaries"]["store"]["size_in_bytes"],
        "total_bytes": stats["total"]["store"]["size_in_bytes"],
        "segments_total": stats["total"]["segments"]["count"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--target", choices=("cluster", "local"), default="cluster")
    parser.add_argument("--keep", action="store_true", help="leave the index for inspection")
    args = parser.parse_args()
    store = ElasticsearchAuditStore(
        connection(args.target),
        prefix=f"anbao-bench-storage-{uuid.uuid4().hex[:8]}",
        development=True,
    )
    try:
        raw_bytes, seconds = store_events(store, args.events)
        sizes = compact(store, args.events)
    finally:
        if not args.keep:
            store.delete_all()
        store.close()
    per_million = MILLION / args.events
    primary_mb = sizes["primary_bytes"] * per_million / 2**20
    raw_mb = raw_bytes * per_million / 2**20
    print(
        json.dumps(
            {
                "bench": "es_storage",
                "target": args.target,
                "events": args.events,
                "store_seconds": round(seconds, 1),
                "events_per_second": round(args.events / seconds),
                **sizes,
                "anbao": {
                    "what": "primary store size per million events, force-merged",
                    "mb_per_million": round(primary_mb, 1),
                    "with_replicas_mb_per_million": round(
                        sizes["total_bytes"] * per_million / 2**20, 1
                    ),
                    "bytes_per_event": round(sizes["primary_bytes"] / args.events, 1),
                },
                "reference": {
                    "what": "canonical JSON of the same events (the spool's bytes)",
                    "mb_per_million": round(raw_mb, 1),
                    "bytes_per_event": round(raw_bytes / args.events, 1),
                },
                "ratio": round(primary_mb / raw_mb, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
