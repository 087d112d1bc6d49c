"""The streaming engine: scenarios raise exactly their detections, the baseline none; the audit
shipper feeds it through the DeliveryObserver port; failures never reach the pipeline."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from audit.ports import RawDocument
from audit.recording.recorder import Recorder
from audit.recording.shipper import Shipper
from audit.recording.spool import Spool, SpoolConfig
from audit.stores.sqlite import SqliteAuditStore
from siem.engines.loader import RuleSet, load_rules
from siem.engines.streaming import StreamingEngine
from siem.model import Detection, Engine
from siem.testing import (
    ListSink,
    attack_scenarios,
    benign_baseline,
    documents,
    timeline,
    working_day,
)
from tests.unit.clocks import LIVENESS_SECONDS

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)  # the engines' clock
START = working_day(NOW)


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules()


def names(ruleset: RuleSet, detections: Sequence[Detection]) -> collections.Counter[str]:
    by_id = {r.id: r.name for r in ruleset.rules}
    return collections.Counter(by_id[d.rule_id] for d in detections)


def test_every_scenario_raises_its_detections_once_and_the_baseline_none(ruleset: RuleSet) -> None:
    sink = ListSink()
    engine = StreamingEngine(ruleset, sink, clock=lambda: NOW)
    scenarios, events = timeline(START)
    assert len(events) >= 10_000 + len(scenarios)
    engine.observe(documents(events))
    expected = collections.Counter(n for s in scenarios for n in s.expected)
    assert names(ruleset, sink.detections) == expected
    assert len({r for s in scenarios for r in s.expected}) >= 20
    assert all(d.engine is Engine.STREAMING and d.detected_at == NOW for d in sink.detections)


def test_baseline_alone_raises_nothing(ruleset: RuleSet) -> None:
    engine = StreamingEngine(ruleset, ListSink(), clock=lambda: NOW)
    assert engine.evaluate(documents(benign_baseline(START, 10_000, seed=11))) == []


def test_detection_links_to_events_and_entity(ruleset: RuleSet) -> None:
    brute = next(s for s in attack_scenarios(START) if s.name == "brute force")
    engine = StreamingEngine(ruleset, ListSink(), clock=lambda: NOW)
    (found,) = engine.evaluate(documents(list(brute.events)))
    assert found.entity == (("user.name", "victim-bf"),)
    assert found.event_ids == tuple(e.id for e in brute.events[:10])
    assert found.count == 10
    assert found.first_event_time == brute.events[0].timestamp
    assert found.last_event_time == brute.events[9].timestamp
    assert found.severity.value == "high"
    assert "mlps.l3-ces1-02" in found.tags
    assert found.to_dict()["entity"] == {"user.name": "victim-bf"}


def test_response_actions_travel_with_the_detection(ruleset: RuleSet) -> None:
    seal = next(
        s for s in attack_scenarios(START) if s.name == "seal used after a revocation attempt"
    )
    (found,) = StreamingEngine(ruleset, ListSink(), clock=lambda: NOW).evaluate(
        documents(list(seal.events))
    )
    assert [(r.kind.value, r.target, r.approval) for r in found.responses] == [
        ("suspend_seal", "resource.id", False)
    ]
    assert found.entity == (("resource.id", "seal-rv"),)


def test_correlation_memory_is_bounded(ruleset: RuleSet) -> None:
    engine = StreamingEngine(ruleset, ListSink(), clock=lambda: NOW, max_groups=50)
    spray = [e for s in attack_scenarios(START) for e in s.events if s.name == "password spraying"]
    many = [*benign_baseline(START, 5000), *spray]
    engine.evaluate(documents(many))
    assert all(len(c.state) <= 50 for c in engine.core.correlations.values())


class Boom:
    def emit(self, detections: Sequence[Detection]) -> None:
        raise RuntimeError("sink down")


def test_shipper_feeds_the_engine_and_survives_a_failing_sink(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    spool = Spool(SpoolConfig(path=tmp_path / "spool.sqlite3"), sleep=lambda _s: None)
    store = SqliteAuditStore(tmp_path / "audit.sqlite3")
    recorder = Recorder(spool)
    shipper = Shipper(spool, store)
    good, bad = ListSink(), StreamingEngine(ruleset, Boom(), clock=lambda: NOW)
    engine = StreamingEngine(ruleset, good, clock=lambda: NOW)
    shipper.add_observer(bad)  # fails first: must not stop delivery nor the next observer
    shipper.add_observer(engine)
    try:
        scenario = next(s for s in attack_scenarios(START) if s.name == "brute force")
        for event in scenario.events:
            recorder.record_event(event)
        assert shipper.drain(timeout=LIVENESS_SECONDS)
        assert store.streams().get("main", 0) + store.streams().get("iam", 0) == 12
        assert names(ruleset, good.detections) == {"anbao_bruteforce_account": 1}
        assert bad.sink_failures == 1
        assert engine.events == 12
    finally:
        shipper.stop()
        recorder.close()
        spool.close()
        store.close()


def test_plans_and_the_index_path_agree(ruleset: RuleSet) -> None:
    """The per-key plans give the same matches as the field index on every document, including
    shapes the plans do not cover (non-string key values, flat dotted keys, no ``event``)."""
    engine = StreamingEngine(ruleset, ListSink(), clock=lambda: NOW)
    _, events = timeline(START, n=3000)
    docs = documents(events)
    odd: list[dict[str, object]] = []
    for doc in docs[:400]:
        event = dict(doc["event"])
        odd.append({**doc, "event": {**event, "action": str(event["action"]).upper()}})
        odd.append({**doc, "event": {**event, "outcome": 1}})
        odd.append({**doc, "event": {**event, "category": "authentication"}})
        odd.append(
            {k: v for k, v in doc.items() if k != "event"} | {"event.action": event["action"]}
        )
        odd.append({**doc, "event": None, "event.action": event["action"]})
    matched = 0
    for doc in docs + odd:
        got = engine.matches(doc)
        assert got == engine.matches_indexed(doc)
        matched += bool(got)
    assert matched > 100
    assert 0 < engine.plan_count < 4096  # the plans served most documents


def test_delivered_decodes_as_json_loads(ruleset: RuleSet) -> None:
    """The shipper's canonical bytes are decoded exactly as ``json.loads`` would: surrounding
    whitespace accepted, trailing data refused (the pipeline logs the observer's error)."""
    brute = next(s for s in attack_scenarios(START) if s.name == "brute force")
    raw = [RawDocument(e.id, "", e.canonical_bytes()) for e in brute.events]
    engine = StreamingEngine(ruleset, ListSink(), clock=lambda: NOW)
    engine.delivered([RawDocument(r.event_id, "", b" " + r.document + b"\n") for r in raw])
    assert engine.events == len(raw)
    assert engine.detections == 1
    with pytest.raises(json.JSONDecodeError, match="Extra data"):
        engine.delivered([RawDocument("x", "", raw[0].document + b"{}")])


def test_detections_carry_the_org_scope_of_their_events(ruleset: RuleSet) -> None:
    """Issue 16 §2.1: the smallest subtree of the raising events; odd paths: platform only."""
    brute = next(s for s in attack_scenarios(START) if s.name == "brute force")

    def raised(*paths: str) -> str:
        events = [
            dataclasses.replace(e, org_path=paths[i % len(paths)])
            for i, e in enumerate(brute.events)
        ]
        engine = StreamingEngine(ruleset, ListSink(), clock=lambda: NOW)
        (found,) = engine.evaluate(documents(events))
        return found.org_path

    assert raised("/53/5301/530102") == "/53/5301/530102"
    assert raised("/53/5301/530102/1", "/53/5301/530102/2") == "/53/5301/530102"
    assert raised("/53/5301/530102", "/53/5301/530103") == "/53/5301"
    assert raised("/53/5301/530102", "/53/5301/530102/../530103") == ""
    assert raised("/53/5301/530102", "") == ""
