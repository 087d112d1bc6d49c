"""Bounded, windowed state of Sigma correlation rules (``event_count``, ``value_count``,
``temporal``, ``temporal_ordered``), shared by both engines.

Sigma correlation specification (v2): a correlation groups the *signals* of the rules it names
(matches of a base rule, or firings of another correlation) by ``group-by`` fields and fires when
its condition holds within ``timespan``. Here the window slides on event time (``@timestamp``),
not wall time, so replaying the same ordered events gives the same detections in both engines.

Firing semantics (documented in docs/siem-rules.md): a group fires the moment the condition
becomes true (``gte``/``gt``/``eq`` thresholds: when the count or distinct count reaches it; the
temporal types: when the last rule needed arrives), then its state is cleared, so a burst of N..2N-1
events raises one detection and the alert service groups what follows.

Memory is bounded: at most ``max_groups`` groups per correlation (least recently touched evicted
first), at most ``threshold`` entries per group, entries older than the window dropped on touch.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Final

from siem.errors import RuleUnsupported
from siem.model import common_org

#: Contributing event ids kept per detection (the alert links to these; ``count`` is exact).
MAX_EVENT_IDS: Final = 100

GroupKey = tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Signal:
    """One occurrence of a rule for a group: a base-rule match or a correlation firing."""

    rule_id: str
    first: dt.datetime
    last: dt.datetime
    event_ids: tuple[str, ...]
    count: int = 1
    #: For correlation firings: the group-by values of the firing correlation.
    group: tuple[tuple[str, str], ...] = ()
    #: For correlation-counted fields (``value_count``): the counted value, if any.
    value: str | None = None
    #: The smallest org subtree of its events (:func:`siem.model.common_org`).
    org: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Firing:
    """A correlation whose condition became true for one group."""

    group: GroupKey
    first: dt.datetime
    last: dt.datetime
    event_ids: tuple[str, ...]
    count: int
    org: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class CorrelationSpec:
    """What the state machine needs of a correlation rule."""

    kind: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: dt.timedelta
    op: str = "gte"
    threshold: int = 1
    value_field: str | None = None


def _ids(signals: Sequence[Signal]) -> tuple[str, ...]:
    out: list[str] = []
    for s in signals:
        out.extend(s.event_ids)
        if len(out) >= MAX_EVENT_IDS:
            break
    return tuple(out[:MAX_EVENT_IDS])


def _firing(group: GroupKey, signals: Sequence[Signal]) -> Firing:
    return Firing(
        group,
        min(s.first for s in signals),
        max(s.last for s in signals),
        _ids(signals),
        sum(s.count for s in signals),
        common_org(s.org for s in signals),
    )


class CorrelationState:
    """The windowed state of one correlation rule, keyed by group-by values."""

    def __init__(self, spec: CorrelationSpec, *, max_groups: int = 100_000) -> None:
        if spec.kind in ("event_count", "value_count") and spec.op not in ("gte", "gt", "eq"):
            raise RuleUnsupported(
                f"{spec.kind} with '{spec.op}' cannot fire while events arrive; use gte, gt or eq"
            )
        self.spec = spec
        self.max_groups = max_groups
        self._needed = spec.threshold + 1 if spec.op == "gt" else spec.threshold
        self._groups: collections.OrderedDict[GroupKey, list[Signal]] = collections.OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._groups)

    def _touch(self, key: GroupKey) -> list[Signal]:
        entries = self._groups.get(key)
        if entries is None:
            entries = self._groups[key] = []
            if len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)
                self.evicted += 1
        else:
            self._groups.move_to_end(key)
        return entries

    def add(self, key: GroupKey, signal: Signal) -> Firing | None:
        """Feed one signal of a referenced rule; returns a firing when the condition holds."""
        if self._cannot_start(key, signal):
            return None
        entries = self._touch(key)
        horizon = signal.last - self.spec.timespan
        kind = self.spec.kind
        if kind == "temporal_ordered":
            if entries and entries[0].first < horizon:
                entries.clear()  # the sequence's first step left the window: start again
        else:
            entries[:] = [e for e in entries if e.last >= horizon]
        if kind == "event_count":
            fired = self._count(entries, signal)
        elif kind == "value_count":
            fired = self._values(entries, signal)
        elif kind == "temporal":
            fired = self._temporal(entries, signal)
        elif kind == "temporal_ordered":
            fired = self._ordered(entries, signal)
        else:
            raise RuleUnsupported(f"correlation type {kind} is not supported")
        if fired is None:
            return None
        del self._groups[key]
        return _firing(key, fired)

    def _cannot_start(self, key: GroupKey, signal: Signal) -> bool:
        """A later step of an ordered sequence for a group with no state: nothing to keep (saves
        one group per ordinary sign-in for ``success after failures``)."""
        return (
            self.spec.kind == "temporal_ordered"
            and key not in self._groups
            and signal.rule_id != self.spec.rules[0]
        )

    def _count(self, entries: list[Signal], signal: Signal) -> list[Signal] | None:
        entries.append(signal)
        if len(entries) > self._needed:
            del entries[0 : len(entries) - self._needed]
        total = sum(e.count for e in entries)
        return list(entries) if total >= self._needed else None

    def _values(self, entries: list[Signal], signal: Signal) -> list[Signal] | None:
        if signal.value is None:
            return None
        entries[:] = [e for e in entries if e.value != signal.value]
        entries.append(signal)
        if len(entries) > self._needed:
            del entries[0 : len(entries) - self._needed]
        return list(entries) if len(entries) >= self._needed else None

    def _temporal(self, entries: list[Signal], signal: Signal) -> list[Signal] | None:
        entries[:] = [e for e in entries if e.rule_id != signal.rule_id]
        entries.append(signal)
        present = {e.rule_id for e in entries}
        return list(entries) if present.issuperset(self.spec.rules) else None

    def _ordered(self, entries: list[Signal], signal: Signal) -> list[Signal] | None:
        """``entries`` is the longest prefix of ``rules`` seen in order within the window."""
        order = self.spec.rules
        position = order.index(signal.rule_id) if signal.rule_id in order else -1
        if position == len(entries):
            entries.append(signal)
        elif position == 0:
            entries[:] = [signal]  # a new first step restarts the sequence
        return list(entries) if len(entries) == len(order) else None


__all__ = ["MAX_EVENT_IDS", "CorrelationSpec", "CorrelationState", "Firing", "Signal"]
