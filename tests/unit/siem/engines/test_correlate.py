"""Windowed correlation state: firing, reset, expiry, ordering and memory caps."""

from __future__ import annotations

import datetime as dt

import pytest

from siem.engines.correlate import CorrelationSpec, CorrelationState, Signal
from siem.errors import RuleUnsupported

T0 = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)


def sig(rule: str, seconds: float, eid: str, value: str | None = None) -> Signal:
    at = T0 + dt.timedelta(seconds=seconds)
    return Signal(rule, at, at, (eid,), value=value)


def spec(
    kind: str, threshold: int = 3, rules: tuple[str, ...] = ("a",), span: int = 60
) -> CorrelationSpec:
    return CorrelationSpec(
        kind, rules, ("user.name",), dt.timedelta(seconds=span), "gte", threshold
    )


def test_event_count_fires_once_per_burst_then_resets() -> None:
    state = CorrelationState(spec("event_count"))
    fired = [state.add(("u",), sig("a", i, f"e{i}")) for i in range(5)]
    assert [f is not None for f in fired] == [False, False, True, False, False]
    first = fired[2]
    assert first is not None
    assert first.event_ids == ("e0", "e1", "e2")
    assert first.count == 3
    assert first.first == T0
    assert first.last == T0 + dt.timedelta(seconds=2)


def test_event_count_window_expires_old_events() -> None:
    state = CorrelationState(spec("event_count"))
    assert state.add(("u",), sig("a", 0, "e0")) is None
    assert state.add(("u",), sig("a", 1, "e1")) is None
    assert state.add(("u",), sig("a", 100, "e2")) is None  # e0, e1 left the 60 s window
    assert state.add(("u",), sig("a", 101, "e3")) is None
    assert state.add(("u",), sig("a", 102, "e4")) is not None


def test_groups_are_independent_and_capped() -> None:
    state = CorrelationState(spec("event_count", threshold=2), max_groups=10)
    for i in range(100):
        state.add((f"user{i}",), sig("a", i, f"e{i}"))
    assert len(state) == 10
    assert state.evicted == 90
    assert state.add(("user99",), sig("a", 100, "x")) is not None  # recent group kept
    assert state.add(("user0",), sig("a", 100, "y")) is None  # evicted group starts afresh


def test_value_count_counts_distinct_values() -> None:
    state = CorrelationState(spec("value_count"))
    assert state.add(("ip",), sig("a", 0, "e0", "bob")) is None
    assert state.add(("ip",), sig("a", 1, "e1", "bob")) is None  # same value again
    assert state.add(("ip",), sig("a", 2, "e2", "carol")) is None
    fired = state.add(("ip",), sig("a", 3, "e3", "dave"))
    assert fired is not None
    assert set(fired.event_ids) == {"e1", "e2", "e3"}


def test_temporal_needs_every_rule_in_any_order() -> None:
    state = CorrelationState(spec("temporal", rules=("a", "b")))
    assert state.add(("u",), sig("b", 0, "e0")) is None
    assert state.add(("u",), sig("a", 5, "e1")) is not None


def test_temporal_ordered_needs_the_order_and_the_window() -> None:
    state = CorrelationState(spec("temporal_ordered", rules=("a", "b")))
    assert state.add(("u",), sig("b", 0, "e0")) is None  # b before a: no sequence
    assert state.add(("u",), sig("a", 1, "e1")) is None
    assert state.add(("u",), sig("b", 2, "e2")) is not None
    assert state.add(("u",), sig("a", 10, "e3")) is None
    assert state.add(("u",), sig("b", 200, "e4")) is None  # a left the window


@pytest.mark.parametrize("op", ["lt", "lte"])
def test_thresholds_that_cannot_fire_while_streaming_are_refused(op: str) -> None:
    bad = CorrelationSpec("event_count", ("a",), (), dt.timedelta(seconds=60), op, 3)
    with pytest.raises(RuleUnsupported):
        CorrelationState(bad)
