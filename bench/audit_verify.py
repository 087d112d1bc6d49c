"""``audit verify`` rate vs a plain point-in-time scan of the same data (target >= 0.8).

Both read every event of one stream from the store once. The reference only reads (the
Elasticsearch point-in-time API sorted by ``_shard_doc``, 10,000 hits a page; for SQLite one
snapshot ``SELECT doc`` with ``json.loads`` per row); ``verify`` also reads the leaf-hash log,
recomputes every leaf hash (canonical JSON + SM3), rebuilds the Merkle roots, checks each SM2
tree-head signature and classifies differences. Rounds alternate scan / verify; the best round
of each counts (the least disturbed by other load on the machine).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.model import canonical_json
from audit.ports import AuditStore, RawDocument
from audit.sensitive.masking import FieldCipher, Keyring
from crypto import sm2

BATCH = 5000


@dataclasses.dataclass(frozen=True, slots=True)
class _Spooled:
    event_id: str
    stream: str
    sequence: int
    timestamp: str
    document: bytes


def _documents(n: int, run_id: str) -> Iterator[_Spooled]:
    """Realistic ECS documents (~700 bytes, one in ten with an encrypted phone number)."""
    cipher = FieldCipher(Keyring.generate())
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for seq in range(n):
        event_id = f"{run_id}-{seq:08d}"
        ts = (t0 + dt.timedelta(milliseconds=seq * 7)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        doc: dict[str, Any] = {
            "@timestamp": ts,
            "event": {
                "id": event_id,
                "kind": "event",
                "category": ["web"],
                "type": ["access"],
                "action": "http.request",
                "outcome": "success" if seq % 17 else "failure",
                "duration": 1_000_000 + seq % 5000,
            },
            "user": {"id": f"u-{seq % 1000}", "name": f"user{seq % 1000}", "roles": ["seal-user"]},
            "organization": {"path": f"/gov/dept{seq % 40}"},
            "source": {"ip": f"10.{seq % 250}.{seq % 200}.{seq % 100 + 1}"},
            "user_agent": {"original": "Mozilla/5.0 (X11; Linux x86_64) anbao-bench/1.0"},
            "service": {"name": "anbao"},
            "trace": {"id": uuid.UUID(int=seq).hex},
            "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
            "url": {"path": f"/seals/{seq % 3000}/use"},
            "ecs": {"version": "8.11.0"},
            "anbao": {"schema_version": 1, "stream": "main", "sequence": seq},
        }
        if seq % 10 == 0:
            doc["personal"] = {"phone": cipher.encrypt(event_id, "personal.phone", "13800138000")}
        yield _Spooled(event_id, "main", seq, ts, canonical_json(doc))


def populate(store: AuditStore, integrity: IntegrityService, n: int) -> float:
    """Write ``n`` events and their leaves (heads every 1000, as by default); returns seconds."""
    started = time.perf_counter()
    batch: list[_Spooled] = []
    run_id = uuid.uuid4().hex[:8]
    for item in _documents(n, run_id):
        batch.append(item)
        if len(batch) == BATCH:
            _flush(store, integrity, batch)
            batch = []
    if batch:
        _flush(store, integrity, batch)
    integrity.issue("main")
    store.refresh()
    return time.perf_counter() - started


def _flush(store: AuditStore, integrity: IntegrityService, batch: list[_Spooled]) -> None:
    store.write_documents([RawDocument(b.event_id, b.timestamp, b.document) for b in batch])
    for i in range(0, len(batch), 1000):
        integrity.append_records(batch[i : i + 1000])


def es_pit_scan(store: Any) -> int:
    """The reference: read every document once through a point-in-time, 10,000 per page."""
    client = store.client
    pit = client.open_point_in_time(index=store.pattern, keep_alive="2m")["id"]
    count, after = 0, None
    try:
        while True:
            extra = {"search_after": after} if after else {}
            page = client.search(
                pit={"id": pit, "keep_alive": "2m"},
                sort=["_shard_doc"],
                size=10_000,
                track_total_hits=False,
                **extra,
            )
            hits = page["hits"]["hits"]
            for hit in hits:
                count += hit["_source"]["anbao"]["sequence"] >= 0
            if len(hits) < 10_000:
                return count
            after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit)


def sqlite_snapshot_scan(path: Path) -> int:
    """The reference: one snapshot read of every document, parsed."""
    count = 0
    with sqlite3.connect(path) as db:
        for (text,) in db.execute("SELECT doc FROM events"):
            count += json.loads(text)["anbao"]["sequence"] >= 0
    return count


def measure(
    n: int, scan: Callable[[], int], verify: Callable[[], Any], rounds: int
) -> dict[str, Any]:
    scan_best = verify_best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        if scan() != n:
            raise RuntimeError("the reference scan did not read every event")
        scan_best = min(scan_best, time.perf_counter() - t)
        t = time.perf_counter()
        report = verify()
        verify_best = min(verify_best, time.perf_counter() - t)
        if not report.ok or report.streams[0].checked_events != n:
            raise RuntimeError(json.dumps(report.to_json()))
    return {
        "events": n,
        "scan_events_per_s": round(n / scan_best),
        "verify_events_per_s": round(n / verify_best),
        "ratio": round(scan_best / verify_best, 3),
        "target": ">= 0.8",
    }


def bench_store(
    kind: str,
    store: AuditStore,
    tmp: Path,
    *,
    n: int,
    rounds: int,
    scan: Callable[[], int],
    verify_store: Any = None,
    variants: dict[str, tuple[str, Any]] | None = None,
) -> dict[str, Any]:
    """``verify_store`` is what ``anbao audit verify`` reads (default: ``store``);
    ``variants`` (name -> (note, store)) are measured once more each, for comparison."""
    integrity = IntegrityService(
        SqliteIntegrityLog(tmp / f"integrity-{kind}.sqlite3"),
        HeadSigner(sm2.PrivateKey.generate()),
        clock=time.time,
        policy=HeadPolicy(every_events=1000, every_seconds=60),
    )
    target = verify_store if verify_store is not None else store
    try:
        load_s = populate(store, integrity, n)
        result = measure(n, scan, lambda: integrity.verify(target, streams=["main"]), rounds)
        result["heads"] = len(integrity.log.heads("main"))
        for name, (note, variant) in (variants or {}).items():
            t = time.perf_counter()
            report = integrity.verify(variant, streams=["main"])
            if not report.ok:
                raise RuntimeError(json.dumps(report.to_json()))
            rate = n / (time.perf_counter() - t)
            result[name] = {
                "note": note,
                "verify_events_per_s": round(rate),
                "ratio": round(rate / result["scan_events_per_s"], 3),
            }
        result["load_seconds"] = round(load_s, 1)
        return result
    finally:
        integrity.log.close()
