"""The scheduled engine's windows, overlap and de-duplication (the store is faked here by the
rules' own predicates; tests/integration/siem runs the real Lucene queries on Elasticsearch)."""

from __future__ import annotations

import bisect
import collections
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sigma.correlations import SigmaCorrelationRule

from siem.engines.core import event_time
from siem.engines.loader import RuleSet, load_rules
from siem.engines.matcher import Predicate, compile_rule
from siem.engines.scheduled import ScheduledEngine, lucene_query
from siem.engines.streaming import StreamingEngine
from siem.testing import ListSink, documents, timeline, working_day

#: The schedulers' clock starts at the scripted day's start.
START = working_day(dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules()


class MemorySource:
    """Answers a rule's Lucene query with the documents its predicate matches."""

    def __init__(self, ruleset: RuleSet, docs: list[dict[str, Any]]) -> None:
        self.docs = sorted(docs, key=event_time)
        self.times = [event_time(d) for d in self.docs]
        self.by_query: dict[str, Predicate] = {}
        for rule in ruleset.rules:
            sigma = ruleset.sigma[rule.id]
            if not isinstance(sigma, SigmaCorrelationRule):
                query, _ = lucene_query(sigma)
                self.by_query[query] = compile_rule(list(sigma.detection.parsed_condition))
        self.calls = 0

    def search(
        self, query: str, start: dt.datetime, end: dt.datetime, *, page_size: int = 1000
    ) -> Iterator[Mapping[str, Any]]:
        self.calls += 1
        match = self.by_query[query]
        lo, hi = bisect.bisect_left(self.times, start), bisect.bisect_left(self.times, end)
        for doc in self.docs[lo:hi]:
            if match(doc):
                yield doc


class Checkpoints:
    def __init__(self) -> None:
        self.saved: dict[str, Mapping[str, Any]] = {}

    def load(self, name: str) -> Mapping[str, Any] | None:
        return self.saved.get(name)

    def save(self, name: str, state: Mapping[str, Any]) -> None:
        self.saved[name] = dict(state)


def test_every_base_rule_converts_to_one_lucene_query(ruleset: RuleSet) -> None:
    queries = {}
    for rule in ruleset.rules:
        sigma = ruleset.sigma[rule.id]
        if not isinstance(sigma, SigmaCorrelationRule):
            queries[rule.name] = lucene_query(sigma)
    assert queries["anbao_login_failure"] == (
        "event.action:keycloak.login AND event.outcome:failure",
        False,
    )
    assert queries["anbao_keycloak_realm_changed"][0] == (
        "event.action:keycloak.* AND labels.keycloak_type:REALM_UPDATE"
    )
    query, recheck = queries["anbao_role_self_grant"]  # fieldref: dropped, re-checked
    assert recheck
    assert "resource.name" not in query


def run_schedule(engine: ScheduledEngine, end: dt.datetime, step: dt.timedelta) -> list[Any]:
    found = []
    now = START
    while now <= end:
        found += engine.run_once(now)
        now += step
    return found


def test_runs_with_overlap_agree_with_streaming_without_double_detections(ruleset: RuleSet) -> None:
    scenarios, events = timeline(START, n=3000)
    docs = documents(events)
    streaming = StreamingEngine(ruleset, ListSink(), clock=lambda: START).evaluate(docs)
    sink = ListSink()
    engine = ScheduledEngine(
        ruleset,
        MemorySource(ruleset, docs),
        sink,
        clock=lambda: START,
        lookback=dt.timedelta(minutes=10),
        overlap=dt.timedelta(minutes=3),
        lag=dt.timedelta(seconds=0),
    )
    found = run_schedule(engine, START + dt.timedelta(hours=14), dt.timedelta(minutes=5))
    assert found == sink.detections
    assert sorted(d.key for d in found) == sorted(d.key for d in streaming)
    assert len({d.key for d in found}) == len(found)  # no double detection from the overlap
    expected = collections.Counter(n for s in scenarios for n in s.expected)
    by_id = {r.id: r.name for r in ruleset.rules}
    assert collections.Counter(by_id[d.rule_id] for d in found) == expected


def test_checkpoint_resumes_after_the_last_window(ruleset: RuleSet) -> None:
    checkpoints = Checkpoints()
    make = lambda: ScheduledEngine(  # noqa: E731
        ruleset,
        MemorySource(ruleset, []),
        ListSink(),
        clock=lambda: START,
        lookback=dt.timedelta(minutes=30),
        overlap=dt.timedelta(minutes=2),
        lag=dt.timedelta(seconds=5),
        checkpoints=checkpoints,
    )
    first = make()
    assert first.window(START) == (
        START - dt.timedelta(minutes=30, seconds=5),
        START - dt.timedelta(seconds=5),
    )
    first.run_once(START)
    again = make()  # a restarted scheduler
    later = START + dt.timedelta(minutes=5)
    assert again.window(later) == (  # resumes exactly at the saved end: nothing twice
        START - dt.timedelta(seconds=5),
        later - dt.timedelta(seconds=5),
    )
    again.run_once(later)
    even_later = later + dt.timedelta(minutes=5)
    assert again.window(even_later) == (  # then windows overlap again
        later - dt.timedelta(minutes=2, seconds=5),
        even_later - dt.timedelta(seconds=5),
    )
    soon = make()  # restarted again, and run shortly after the saved end
    soon.run_once(later + dt.timedelta(seconds=10))
    assert soon.window(later + dt.timedelta(seconds=20))[0] == later - dt.timedelta(seconds=5)
    # (without the floor it would re-read the 2-minute overlap of the previous process)
