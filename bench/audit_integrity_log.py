"""The integrity log on PostgreSQL (a cluster's shared log) vs the embedded SQLite file.

Measured in the same run, same leaves, same machine, the SQLite log being the reference:

* append: the shipper's call, batches of ``--batch`` leaves (``IntegrityLog.append_leaves``),
  leaves per second and milliseconds per batch (a head signed every 1000 leaves, as by default);
* read: verify's access pattern, ``leaf_rows`` over the whole stream in windows of
  :data:`audit.integrity.verify.WINDOW`;
* verify: ``verify_stream`` of the whole stream against an in-memory store of the stored bytes
  (so the store's own reading is out of both figures and the log's share shows).

Reads and verify: alternating rounds, the best of three for each log.

``python -m bench.audit_integrity_log --database postgresql://…`` (an empty database it may
create tables in; deploy/local/postgres.sh gives one); without ``--database`` only SQLite runs.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.integrity.merkle import SM3
from audit.integrity.model import LeafRecord
from audit.integrity.ports import IntegrityLog
from audit.integrity.postgres import PostgresIntegrityLog
from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.integrity.verify import WINDOW, verify_stream
from audit.sql.engine import create_engine
from bench.audit_verify import _documents
from crypto import sm2

STREAM = "main"
ROUNDS = 3


class BytesStore:
    """Stored documents by sequence, read back as bytes (``scan_raw``), like the real stores."""

    kind = "memory"

    def __init__(self, docs: list[bytes]) -> None:
        self._docs = docs

    def streams(self) -> dict[str, int]:
        return {STREAM: len(self._docs)}

    def scan_raw(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[tuple[int, bytes]]:
        del stream, batch_size
        end = len(self._docs) if stop is None else stop
        for seq in range(start, end):
            yield seq, self._docs[seq]


def populate(log: IntegrityLog, docs: list[bytes], ids: list[str], batch: int) -> dict[str, Any]:
    """Append every leaf in batches, as the shipper does; the append figures and the service."""
    service = IntegrityService(
        log,
        HeadSigner(sm2.PrivateKey.generate()),
        clock=time.time,
        policy=HeadPolicy(every_events=1000, every_seconds=1e9),
    )
    leaves = [LeafRecord(STREAM, i, ids[i], SM3.leaf(d)) for i, d in enumerate(docs)]
    n = len(leaves)
    t = time.perf_counter()
    for lo in range(0, n, batch):
        log.append_leaves(leaves[lo : lo + batch])
        service.issue_due([STREAM])
    append_s = time.perf_counter() - t
    service.issue(STREAM)
    return {
        "append_leaves_per_s": round(n / append_s),
        "append_ms_per_batch": round(append_s * 1000 / -(-n // batch), 2),
        "heads": len(log.heads(STREAM)),
        "service": service,
    }


def read_and_verify(service: IntegrityService, docs: list[bytes]) -> tuple[float, float]:
    """Seconds to read every leaf (verify's windows), then to verify the whole stream."""
    log, n = service.log, len(docs)
    t = time.perf_counter()
    rows = sum(len(log.leaf_rows(STREAM, lo, lo + WINDOW)) for lo in range(0, n, WINDOW))
    read_s = time.perf_counter() - t
    if rows != n:
        raise RuntimeError("the log did not return every leaf")
    t = time.perf_counter()
    report = verify_stream(log, BytesStore(docs), STREAM, service.trusted)  # type: ignore[arg-type]
    verify_s = time.perf_counter() - t
    if not report.ok or report.checked_events != n:
        raise RuntimeError(json.dumps(report.to_json()))
    return read_s, verify_s


def measure(
    logs: dict[str, IntegrityLog], docs: list[bytes], ids: list[str], batch: int
) -> dict[str, Any]:
    """Append into each log in turn, then read and verify them in alternating rounds (the
    best round of each counts: the least disturbed by other load on the machine)."""
    out = {name: populate(log, docs, ids, batch) for name, log in logs.items()}
    best = {name: [float("inf"), float("inf")] for name in logs}
    for _ in range(ROUNDS):
        for name in logs:
            read_s, verify_s = read_and_verify(out[name]["service"], docs)
            best[name] = [min(best[name][0], read_s), min(best[name][1], verify_s)]
    for name in logs:
        del out[name]["service"]
        out[name]["read_leaf_rows_per_s"] = round(len(docs) / best[name][0])
        out[name]["verify_events_per_s"] = round(len(docs) / best[name][1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="postgresql:// URL of an empty database")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    spooled = list(_documents(args.events, "bench"))
    docs, ids = [s.document for s in spooled], [s.event_id for s in spooled]
    out: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "events": args.events,
        "batch": args.batch,
    }
    engine = create_engine(args.database) if args.database else None
    with tempfile.TemporaryDirectory() as tmp:
        logs: dict[str, IntegrityLog] = {"sqlite": SqliteIntegrityLog(Path(tmp) / "log.sqlite3")}
        if engine is not None:
            logs["postgresql"] = PostgresIntegrityLog(engine)
        try:
            out.update(measure(logs, docs, ids, args.batch))
        finally:
            for log in logs.values():
                log.close()
            if engine is not None:
                engine.dispose()
    if engine is not None:
        out["ratios_postgresql_to_sqlite"] = {
            key: round(out["postgresql"][key] / out["sqlite"][key], 3)
            for key in ("append_leaves_per_s", "read_leaf_rows_per_s", "verify_events_per_s")
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
