"""The streaming engine: every rule compiled once to an in-process matcher, run on each event as
the audit pipeline delivers it.

It is an :class:`audit.ports.DeliveryObserver`: ``anbao`` registers it on the shipper
(``Shipper.add_observer``), which calls :meth:`StreamingEngine.delivered` after each
acknowledged batch. Detections go to the :class:`siem.ports.DetectionSink`; a failing sink is
logged, never raised into the audit pipeline (MLPS L3-CES1-15: detection must not interrupt
auditing).

Cost per event: the values of a few low-cardinality fields rules discriminate on
(``event.action``, ``event.category``, ``event.outcome``) form a key; per key the engine keeps a
*plan*, built on first sight: each rule's condition partially evaluated for those values
(:func:`siem.engines.matcher.specialize_rule`), rules that cannot match dropped, rules that must match
kept without a test, the rest reduced to the tests of the other fields, in rule-pack order. So a
typical event costs one JSON decode, three field reads, one dict lookup and the residual tests.
Plans are bounded (``_MAX_PLANS``); past that, or for keys of unusual types, candidates come from
an index: a rule whose condition requires one field (``event.action`` preferred) to equal a
literal or start with a prefix is filed under that field, the others are tried on every event.
Both paths give the same matches (unit-tested). Correlation state is bounded (see
:mod:`siem.engines.correlate`).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
)
from sigma.correlations import SigmaCorrelationRule
from sigma.types import SigmaString, SpecialChars

from audit.ports import RawDocument
from siem.engines.core import DetectionCore
from siem.engines.loader import RuleSet
from siem.engines.matcher import MISSING, Predicate, compile_rule, field_getter, specialize_rule
from siem.model import Detection, Engine
from siem.ports import DetectionSink

log = logging.getLogger("anbao.siem.streaming")

Doc = Mapping[str, Any]


Pin = tuple[str, frozenset[str], frozenset[str]]
_PREFIX_PARTS: Final = 2  # a literal then '*'
#: Fields whose values key the plans: few distinct values, tested by most rules.
KEY_FIELDS: Final = ("event.action", "event.category", "event.outcome")
#: Plans kept at most (one per distinct key); later keys take the index path.
_MAX_PLANS: Final = 4096
#: Per rule in pack order: its id and its residual test (``None``: matches without one).
Plan = tuple[tuple[str, Predicate | None], ...]
PlanKey = tuple[Any, ...]


def _pin_value(node: ConditionFieldEqualsValueExpression) -> Pin | None:
    value = node.value
    if type(value) is not SigmaString:
        return None
    if not value.contains_special():
        return node.field, frozenset({value.to_plain().casefold()}), frozenset()
    parts = list(value.iter_parts())
    prefix = len(parts) == _PREFIX_PARTS and isinstance(parts[0], str)
    if prefix and parts[1] is SpecialChars.WILDCARD_MULTI:
        return node.field, frozenset(), frozenset({str(parts[0]).casefold()})
    return None


def _merge(pins: list[Pin | None]) -> Pin | None:
    """One pin for an OR of pins on the same field; ``None`` otherwise."""
    known = [p for p in pins if p is not None]
    if len(known) != len(pins) or len({p[0] for p in known}) != 1:
        return None
    literals = frozenset().union(*(p[1] for p in known))
    prefixes = frozenset().union(*(p[2] for p in known))
    return known[0][0], literals, prefixes


def _pin(node: Any) -> Pin | None:
    """A field the condition requires to equal one of some literals or start with a prefix:
    ``(field, casefolded literals, casefolded prefixes)``, or ``None`` when there is none."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _pin_value(node)
    if isinstance(node, ConditionOR):
        return _merge([_pin(arg) for arg in node.args])
    if isinstance(node, ConditionAND):
        found = [p for p in (_pin(arg) for arg in node.args) if p is not None]
        action = [p for p in found if p[0] == "event.action"]
        return (action or found)[0] if found else None
    return None


def _rule_pin(conditions: list[Any]) -> Pin | None:
    return _merge([_pin(c.parsed) for c in conditions])


_RAW_DECODE: Final = json.JSONDecoder().raw_decode


def _decode(document: bytes) -> Any:
    """``json.loads`` of canonical JSON without its per-call set-up (a fifth of the decoding
    cost); anything but one bare JSON value goes through ``json.loads`` for its exact error."""
    text = document.decode("utf-8")
    try:
        value, end = _RAW_DECODE(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


class _FieldIndex:
    """Rules pinned on one field: literal -> rules, plus prefix rules."""

    def __init__(self, field: str) -> None:
        self.get = field_getter(field)
        self.literals: dict[str, list[tuple[str, Predicate]]] = collections.defaultdict(list)
        self.prefixes: list[tuple[str, str, Predicate]] = []

    def candidates(self, doc: Doc, out: list[tuple[str, Predicate]]) -> None:
        value = self.get(doc)
        if type(value) is str:
            self._one(value, out)
        elif type(value) is list:
            for v in value:
                if type(v) is str:
                    self._one(v, out)

    def _one(self, value: str, out: list[tuple[str, Predicate]]) -> None:
        hit = self.literals.get(value) or self.literals.get(value.casefold())
        if hit:
            out += hit
        if self.prefixes:
            key = value.casefold()
            out += [(rid, pred) for prefix, rid, pred in self.prefixes if key.startswith(prefix)]


class StreamingEngine:
    """Evaluates the rule pack on each delivered event; thread-safe."""

    def __init__(
        self,
        ruleset: RuleSet,
        sink: DetectionSink,
        *,
        clock: Callable[[], dt.datetime],
        max_groups: int = 100_000,
        working_hours: Mapping[str, Any] | None = None,
    ) -> None:
        self.ruleset = ruleset
        self._sink = sink
        self._core = DetectionCore(
            ruleset,
            Engine.STREAMING,
            clock=clock,
            max_groups=max_groups,
            working_hours=working_hours,
        )
        self._lock = threading.Lock()
        self._indexes: dict[str, _FieldIndex] = {}
        self._always: list[tuple[str, Predicate]] = []
        self._order = {rule.id: i for i, rule in enumerate(ruleset.rules)}
        self._bases: list[tuple[str, list[Any]]] = []
        self._key_getters = tuple(field_getter(f) for f in KEY_FIELDS)
        self._known = frozenset(KEY_FIELDS)
        self._plans: dict[PlanKey, Plan] = {}
        self.events = 0
        self.detections = 0
        self.sink_failures = 0
        for rule in ruleset.rules:
            sigma = ruleset.sigma[rule.id]
            if isinstance(sigma, SigmaCorrelationRule):
                continue
            conditions = list(sigma.detection.parsed_condition)
            self._bases.append((rule.id, conditions))
            self._index(rule.id, compile_rule(conditions), _rule_pin(conditions))

    def _index(self, rid: str, predicate: Predicate, pin: Pin | None) -> None:
        if pin is None or not (pin[1] or pin[2]):
            self._always.append((rid, predicate))
            return
        index = self._indexes.get(pin[0])
        if index is None:
            index = self._indexes[pin[0]] = _FieldIndex(pin[0])
        for literal in pin[1]:
            index.literals[literal].append((rid, predicate))
        index.prefixes += [(prefix, rid, predicate) for prefix in pin[2]]

    @property
    def core(self) -> DetectionCore:
        return self._core

    @property
    def plan_count(self) -> int:
        """Plans built so far (bounded by ``_MAX_PLANS``; for metrics and tests)."""
        return len(self._plans)

    def matches(self, doc: Doc) -> list[str]:
        """Ids of the base rules whose detection matches ``doc`` (no post-filters, no state)."""
        key = self._key(doc)
        plan = None if key is None else self._plans.get(key)
        if plan is None:
            if key is None or len(self._plans) >= _MAX_PLANS:
                return self.matches_indexed(doc)
            plan = self._plans[key] = self._plan(key)
        return [rid for rid, test in plan if test is None or test(doc)]

    def _key(self, doc: Doc) -> PlanKey | None:
        """The key fields' values, or ``None`` when one is neither a string, a list of strings,
        null nor absent (values of other types compare equal across types: ``1 == True``)."""
        event = doc.get("event")
        if type(event) is dict:  # the usual shape: read the three fields in one go
            get = event.get
            values: tuple[Any, ...] = (
                get("action", MISSING),
                get("category", MISSING),
                get("outcome", MISSING),
            )
        else:
            values = tuple(g(doc) for g in self._key_getters)
        key = []
        for value in values:
            kind = type(value)
            if kind is str or value is None or value is MISSING:
                key.append(value)
            elif kind is list and all(type(v) is str for v in value):
                key.append(tuple(value))
            else:
                return None
        return tuple(key)

    def _plan(self, key: PlanKey) -> Plan:
        """Every rule specialised for documents whose key fields hold ``key``."""
        sample: dict[str, Any] = {}
        for name, value in zip(KEY_FIELDS, key, strict=True):
            if value is MISSING:
                continue
            *path, last = name.split(".")
            node = sample
            for part in path:
                node = node.setdefault(part, {})
            node[last] = list(value) if type(value) is tuple else value
        plan: list[tuple[str, Predicate | None]] = []
        for rid, conditions in self._bases:
            folded = specialize_rule(conditions, self._known, sample)
            if folded is not False:
                plan.append((rid, None if folded is True else folded))
        return tuple(plan)

    def matches_indexed(self, doc: Doc) -> list[str]:
        """:meth:`matches` without plans: candidates from the field index, full predicates."""
        candidates = list(self._always)
        for index in self._indexes.values():
            index.candidates(doc, candidates)
        out = [rid for rid, pred in candidates if pred(doc)]
        if len(out) > 1:
            out.sort(key=self._order.__getitem__)  # rule-pack order, as the scheduled engine
        return out

    def evaluate(self, documents: Iterable[Doc]) -> list[Detection]:
        """Run the pack over documents in order; returns the detections (sink not called)."""
        found: list[Detection] = []
        with self._lock:
            for doc in documents:
                self.events += 1
                matched = self.matches(doc)
                if matched:
                    found += self._core.process(doc, matched)
            self.detections += len(found)
        return found

    def observe(self, documents: Iterable[Doc]) -> list[Detection]:
        """:meth:`evaluate`, then hand the detections to the sink (errors logged, not raised)."""
        found = self.evaluate(documents)
        if found:
            try:
                self._sink.emit(found)
            except Exception:  # detection must never stop audit delivery
                self.sink_failures += 1
                log.exception("detection sink failed; %d detection(s) not delivered", len(found))
        return found

    def delivered(self, documents: Sequence[RawDocument]) -> None:
        """:class:`audit.ports.DeliveryObserver`: observe each document's object (parsed
        here unless the shipper has it already)."""
        # a generator, not a list: a batch of live documents costs more in GC than the decoding
        self.observe(_decode(d.document) if d.parsed is None else d.parsed for d in documents)


__all__ = ["StreamingEngine"]
