"""Detection figures (issue 7), one JSON document on stdout.

``evaluation``: events per second of the streaming engine running the whole built-in rule pack
(24 detections, 32 Sigma rules incl. correlations) over the baseline mix with the attack
scenarios in it — on decoded documents, and on the canonical JSON bytes the shipper hands to
``delivered`` (decoding included).

``delivery``: the audit pipeline's own delivery rate — a spool of N events shipped to the store
by ``Shipper.drain`` — without and with the streaming engine registered as delivery observer,
same events, fresh spool and store each time, in ``--rounds`` interleaved A/B rounds (the
machine is shared: each round pairs a run without and one with, back to back).
``detection_cost`` = median over rounds of 1 - with/without (target <= 0.20); the rates are
medians; ``evaluation_vs_delivery`` = streaming rate / delivery rate (>= 5 means <= 20 %).

``latency``: event-to-alert latency, from ``audit.record`` returning (event durable) to the alert
service holding the alert (alert store in memory), for both engines at once on Elasticsearch:
streaming on the shipper thread (idle wait 0.2 s); scheduled every ``--schedule`` seconds (lag 0,
overlap 30 s), so its latency is bounded by the schedule plus the index refresh (1 s).

    python bench/siem.py [--events 200000] [--delivery 100000] [--stores sqlite,elasticsearch]
                         [--rounds 3] [--quick]

``--quick`` (about a minute): 50,000 evaluation events, 30,000 per delivery run, no latency.
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
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from audit.model import AuditEvent, Outcome
from audit.ports import AuditStore, RawDocument
from audit.recording.recorder import Recorder
from audit.recording.shipper import Shipper
from audit.recording.spool import Spool, SpoolConfig
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from audit.stores.sqlite import SqliteAuditStore
from bench.audit_ingest import es_env
from siem.alerts.service import AlertService
from siem.alerts.testing import MemoryAlertStore
from siem.engines.elasticsearch import ElasticsearchEventSource
from siem.engines.loader import load_rules
from siem.engines.scheduled import ScheduledEngine
from siem.engines.streaming import StreamingEngine
from siem.model import Detection
from siem.testing import ListSink, timeline, working_day


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def workload(n: int) -> list[AuditEvent]:
    """``n`` events: repeated scripted days (baseline + scenarios), each a week later, the
    last one in the past week (relative to the clock, as the engines are)."""
    out: list[AuditEvent] = []
    day = 0
    first = working_day(now()) - dt.timedelta(days=7 * (n // 10_000))
    while len(out) < n:
        start = first + dt.timedelta(days=7 * day)  # same weekday, office hours
        _, events = timeline(start, n=min(10_000, n - len(out)))
        prefix = f"d{day}-"
        out += [_renamed(e, prefix) for e in events]
        day += 1
    return out[:n]


def _renamed(event: AuditEvent, prefix: str) -> AuditEvent:
    return dataclasses.replace(event, id=prefix + event.id)


def section_evaluation(n: int) -> dict[str, Any]:
    ruleset = load_rules()
    events = workload(n)
    docs = [e.with_sequence(i).to_document() for i, e in enumerate(events)]
    raw = [
        RawDocument(e.id, "", e.with_sequence(i).canonical_bytes()) for i, e in enumerate(events)
    ]
    engine = StreamingEngine(ruleset, ListSink(), clock=now)
    t0 = time.perf_counter()
    found = engine.evaluate(docs)
    dict_s = time.perf_counter() - t0
    sink = ListSink()
    engine = StreamingEngine(ruleset, sink, clock=now)
    t0 = time.perf_counter()
    for i in range(0, len(raw), 5000):
        engine.delivered(raw[i : i + 5000])
    bytes_s = time.perf_counter() - t0
    return {
        "events": n,
        "rules": len(ruleset.rules),
        "detections": len(found),
        "documents_per_s": round(n / dict_s),
        "canonical_json_per_s": round(n / bytes_s),
        "correlation_groups_held": engine.core.state_size(),
    }


def _store(kind: str, tmp: Path) -> AuditStore:
    if kind == "sqlite":
        return SqliteAuditStore(tmp / f"audit-{uuid.uuid4().hex[:6]}.sqlite3")
    env = es_env()
    return ElasticsearchAuditStore(
        EsConnection(
            env["ELASTICSEARCH_URL"],
            env["ELASTICSEARCH_USERNAME"],
            env["ELASTICSEARCH_PASSWORD"],
            timeout=60.0,
        ),
        prefix=f"bench-siem-{uuid.uuid4().hex[:8]}",
        development=True,
        retention_days=1,
    )


def _drop(store: AuditStore) -> None:
    if isinstance(store, ElasticsearchAuditStore):
        store.delete_all()
    store.close()


def _fill(tmp: Path, events: Sequence[AuditEvent]) -> tuple[Spool, Recorder]:
    spool = Spool(SpoolConfig(path=tmp / f"spool-{uuid.uuid4().hex[:6]}.sqlite3"))
    recorder = Recorder(spool)
    for i in range(0, len(events), 5000):
        recorder.record_external(events[i : i + 5000])
    return spool, recorder


def _ship(kind: str, tmp: Path, events: Sequence[AuditEvent], observe: bool) -> tuple[float, int]:
    spool, recorder = _fill(tmp, events)
    store = _store(kind, tmp)
    shipper = Shipper(spool, store)
    engine = StreamingEngine(load_rules(), ListSink(), clock=now)
    if observe:
        shipper.add_observer(engine)  # synchronous: evaluated in the shipper thread
    try:
        t0 = time.perf_counter()
        if not shipper.drain(timeout=600):
            raise RuntimeError("the shipper did not drain the spool")
        return time.perf_counter() - t0, engine.detections
    finally:
        shipper.stop()
        recorder.close()
        spool.close()
        _drop(store)


def section_delivery(kind: str, n: int, tmp: Path, rounds: int) -> dict[str, Any]:
    events = workload(n)
    runs: dict[bool, list[float]] = {False: [], True: []}
    detections = 0
    for r in range(rounds):  # A/B pairs, order swapped every round: fair on a shared machine
        for observe in (False, True) if r % 2 == 0 else (True, False):
            seconds, found = _ship(kind, tmp, events, observe=observe)
            runs[observe].append(seconds)
            detections = max(detections, found)
    costs = [1 - a / b for a, b in zip(runs[False], runs[True], strict=True)]
    return {
        "store": kind,
        "events": n,
        "rounds": rounds,
        "delivery_per_s": round(n / statistics.median(runs[False])),
        "delivery_with_streaming_per_s": round(n / statistics.median(runs[True])),
        "detections": detections,
        "detection_cost": round(statistics.median(costs), 3),
        "detection_cost_rounds": [round(c, 3) for c in costs],
        "target_cost_max": 0.2,
    }


class TimedSink:
    """Alert service in front, arrival time per (engine, first event id) behind."""

    def __init__(self, alerts: AlertService) -> None:
        self.alerts = alerts
        self.arrived: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def emit(self, detections: Sequence[Detection]) -> None:
        self.alerts.emit(detections)
        at = time.perf_counter()
        with self._lock:
            for d in detections:
                self.arrived.setdefault((d.engine.value, d.event_ids[0]), at)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "n": 0}
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(cuts[18] * 1000, 1),
        "n": len(values),
    }


def section_latency(tmp: Path, count: int, schedule: float) -> dict[str, Any]:
    ruleset = load_rules()
    store = _store("elasticsearch", tmp)
    spool = Spool(SpoolConfig(path=tmp / "latency-spool.sqlite3"))
    recorder = Recorder(spool)
    alerts = AlertService(MemoryAlertStore(), clock=now, window=dt.timedelta(minutes=5))
    sink = TimedSink(alerts)
    shipper = Shipper(spool, store)
    shipper.add_observer(StreamingEngine(ruleset, sink, clock=now))
    source = ElasticsearchEventSource(store.client, index=store.pattern)
    scheduled = ScheduledEngine(ruleset, source, sink, clock=now, lookback=dt.timedelta(minutes=2),
                                overlap=dt.timedelta(seconds=30), lag=dt.timedelta(0))  # fmt: skip
    stop = threading.Event()

    def schedule_loop() -> None:
        while not stop.is_set():
            scheduled.run_once()
            stop.wait(schedule)

    recorded: dict[str, float] = {}
    shipper.start()
    thread = threading.Thread(target=schedule_loop, daemon=True)
    thread.start()
    try:
        for i in range(count):
            event = recorder.record_event(
                AuditEvent(
                    id=f"lat-{uuid.uuid4().hex}",
                    timestamp=now(),
                    action="audit.verify",
                    outcome=Outcome.FAILURE,
                    reason=f"bench {i}",
                    category=("configuration",),
                )
            )
            recorded[event.id] = time.perf_counter()
            time.sleep(0.25)
        deadline = time.monotonic() + 30 + 2 * schedule
        while time.monotonic() < deadline and len(sink.arrived) < 2 * count:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
        shipper.stop()
        recorder.close()
        spool.close()
        _drop(store)
    out: dict[str, Any] = {"events": count, "schedule_s": schedule, "store": "elasticsearch"}
    for engine in ("streaming", "scheduled"):
        lat = [
            sink.arrived[(engine, e)] - t
            for e, t in recorded.items()
            if (engine, e) in sink.arrived
        ]
        out[engine] = _percentiles(lat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="evaluation events")
    parser.add_argument("--delivery", type=int, default=100_000, help="events shipped per run")
    parser.add_argument("--stores", default="sqlite,elasticsearch")
    parser.add_argument("--latency-events", type=int, default=40)
    parser.add_argument("--schedule", type=float, default=2.0, help="scheduled run interval, s")
    parser.add_argument("--rounds", type=int, default=3, help="A/B delivery rounds per store")
    parser.add_argument("--quick", action="store_true", help="smaller runs, no latency section")
    args = parser.parse_args()
    if args.quick:
        args.events, args.delivery = min(args.events, 50_000), min(args.delivery, 30_000)
    stores = [s for s in args.stores.split(",") if s]
    result: dict[str, Any] = {"bench": "siem", "started": now().isoformat()}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        result["evaluation"] = section_evaluation(args.events)
        result["delivery"] = [
            section_delivery(kind, args.delivery, tmp, args.rounds) for kind in stores
        ]
        for row in result["delivery"]:
            row["evaluation_vs_delivery"] = round(
                result["evaluation"]["canonical_json_per_s"] / row["delivery_per_s"], 2
            )
        if "elasticsearch" in stores and not args.quick:
            result["latency"] = section_latency(tmp, args.latency_events, args.schedule)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
