"""What both engines share: from "this document matched these base rules" to detections.

The streaming engine decides the matches with compiled predicates (:mod:`siem.engines.matcher`), the
scheduled engine with Elasticsearch queries from pySigma's backend; both then call
:meth:`DetectionCore.process` in ``(@timestamp, event.id)`` order, so plain-rule detections,
Anbao's post-filters and correlation state (:mod:`siem.engines.correlate`) behave identically.

Anbao extensions (custom Sigma fields, Sigma spec v2 allows them; documented in
docs/siem-rules.md):

* ``x-anbao-entity``: entity fields of a plain rule (default: first present of ``user.name``,
  ``source.ip``).
* ``x-anbao-outside-hours``: ``{tz: "+08:00", start: 8, end: 19, days: [1,2,3,4,5]}``; the rule
  only matches outside those hours (ISO weekdays). Lucene cannot express time of day, so both
  engines apply it here.
* ``x-anbao-new-terms``: ``{field: source.ip, group-by: user.name, max-terms: 64}``; the rule
  only matches when the group has history and ``field``'s value was never seen for it (Elastic's
  "new terms" rule type, which Sigma lacks). State is in memory, bounded, learnt from the
  rule's own matches.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from sigma.correlations import SigmaCorrelationRule

from audit.model import parse_timestamp
from siem.engines.correlate import CorrelationSpec, CorrelationState, Firing, Signal
from siem.engines.loader import RuleSet, rule_id
from siem.engines.matcher import get_value
from siem.errors import RuleUnsupported
from siem.model import Detection, Engine, Rule, common_org

Doc = Mapping[str, Any]
_DEFAULT_ENTITY: Final = ("user.name", "source.ip")


def event_time(doc: Doc) -> dt.datetime:
    """``@timestamp`` of a document as an aware datetime."""
    return parse_timestamp(str(doc.get("@timestamp", "")))


def event_id(doc: Doc) -> str:
    event = doc.get("event")
    return str(event.get("id", "")) if isinstance(event, Mapping) else ""


def _org(doc: Doc) -> str:
    """The event's ``organization.path`` as an org scope (``""``: none, or not canonical)."""
    path = get_value(doc, "organization.path")
    return common_org((path,)) if isinstance(path, str) else ""


def _text(value: Any) -> str | None:
    if value is None or value in ("", [], {}):
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclasses.dataclass(frozen=True, slots=True)
class Hours:
    """Working hours: the rule matches events *outside* them (``x-anbao-outside-hours``)."""

    offset: dt.timezone
    start: int
    end: int
    days: frozenset[int]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Hours:
        tz = str(raw.get("tz", "+08:00"))
        sign = -1 if tz.startswith("-") else 1
        hours, _, minutes = tz.lstrip("+-").partition(":")
        offset = dt.timezone(sign * dt.timedelta(hours=int(hours), minutes=int(minutes or 0)))
        days = frozenset(int(d) for d in raw.get("days", (1, 2, 3, 4, 5)))
        return cls(offset, int(raw.get("start", 8)), int(raw.get("end", 19)), days)

    def outside(self, when: dt.datetime) -> bool:
        local = when.astimezone(self.offset)
        return local.isoweekday() not in self.days or not self.start <= local.hour < self.end


class NewTerms:
    """Per-group sets of seen values (``x-anbao-new-terms``), bounded in groups and terms."""

    def __init__(self, raw: Mapping[str, Any], *, max_groups: int = 100_000) -> None:
        self.field = str(raw["field"])
        self.group_by = str(raw.get("group-by", "user.name"))
        self.max_terms = int(raw.get("max-terms", 64))
        self.max_groups = max_groups
        self._seen: collections.OrderedDict[str, list[str]] = collections.OrderedDict()

    def is_new(self, doc: Doc) -> bool:
        """Record the value; True when the group had history and never this value."""
        group, value = _text(get_value(doc, self.group_by)), _text(get_value(doc, self.field))
        if group is None or value is None:
            return False
        seen = self._seen.get(group)
        if seen is None:
            self._seen[group] = [value]
            if len(self._seen) > self.max_groups:
                self._seen.popitem(last=False)
            return False
        self._seen.move_to_end(group)
        if value in seen:
            return False
        seen.append(value)
        if len(seen) > self.max_terms:
            del seen[0]
        return True


@dataclasses.dataclass(slots=True)
class _Base:
    rule: Rule
    entity: tuple[str, ...]
    hours: Hours | None
    new_terms: NewTerms | None


@dataclasses.dataclass(slots=True)
class _Correlation:
    rule: Rule
    state: CorrelationState


def correlation_spec(rule: SigmaCorrelationRule) -> CorrelationSpec:
    """The state-machine view of a pySigma correlation rule."""
    if rule.aliases.aliases:
        raise RuleUnsupported(f"{rule.title}: correlation field aliases are not supported")
    cond = rule.condition
    op = getattr(getattr(cond, "op", None), "name", "GTE").lower()
    count = int(getattr(cond, "count", 1) or 1)
    fieldref = getattr(cond, "fieldref", None)
    return CorrelationSpec(
        kind=rule.type.name.lower(),
        rules=tuple(rule_id(ref.rule) for ref in rule.rules or ()),
        group_by=tuple(rule.group_by or ()),
        timespan=dt.timedelta(seconds=rule.timespan.seconds),
        op=op,
        threshold=count,
        value_field=fieldref if isinstance(fieldref, str) else None,
    )


class DetectionCore:
    """Turns base-rule matches into detections; one instance per engine, not thread-safe."""

    def __init__(
        self,
        ruleset: RuleSet,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime],
        max_groups: int = 100_000,
        working_hours: Mapping[str, Any] | None = None,
    ) -> None:
        """``working_hours`` (the deployment's ``siem.working_hours``) replaces the hours of
        every rule that has ``x-anbao-outside-hours``: working time is the platform's, not the
        rule author's."""
        self.engine = engine
        self._clock = clock
        self.bases: dict[str, _Base] = {}
        self.correlations: dict[str, _Correlation] = {}
        self._consumers: dict[str, list[str]] = collections.defaultdict(list)
        for rule in ruleset.rules:
            sigma = ruleset.sigma[rule.id]
            extra = sigma.custom_attributes
            if isinstance(sigma, SigmaCorrelationRule):
                spec = correlation_spec(sigma)
                state = CorrelationState(spec, max_groups=max_groups)
                self.correlations[rule.id] = _Correlation(rule, state)
                for ref in spec.rules:
                    self._consumers[ref].append(rule.id)
                continue
            hours = extra.get("x-anbao-outside-hours")
            if isinstance(hours, Mapping) and working_hours is not None:
                hours = working_hours
            terms = extra.get("x-anbao-new-terms")
            self.bases[rule.id] = _Base(
                rule,
                tuple(extra.get("x-anbao-entity", _DEFAULT_ENTITY)),
                Hours.parse(hours) if isinstance(hours, Mapping) else None,
                NewTerms(terms, max_groups=max_groups) if isinstance(terms, Mapping) else None,
            )

    def state_size(self) -> int:
        """Groups held across all correlations (for metrics and the memory-cap test)."""
        return sum(len(c.state) for c in self.correlations.values())

    def process(self, doc: Doc, matched: Iterable[str]) -> list[Detection]:
        """Detections raised by one document that matched the base rules ``matched``."""
        out: list[Detection] = []
        when: dt.datetime | None = None
        for rid in matched:
            base = self.bases[rid]
            when = when or event_time(doc)
            if base.hours is not None and not base.hours.outside(when):
                continue
            if base.new_terms is not None and not base.new_terms.is_new(doc):
                continue
            eid = event_id(doc)
            signal = Signal(rid, when, when, (eid,), org=_org(doc))
            if base.rule.generate:
                out.append(self._plain(base, doc, signal))
            self._propagate(rid, signal, doc, out)
        return out

    def _plain(self, base: _Base, doc: Doc, signal: Signal) -> Detection:
        values = [(f, _text(get_value(doc, f))) for f in base.entity]
        present = [(f, v) for f, v in values if v is not None]
        entity = tuple(present[:1]) if base.entity == _DEFAULT_ENTITY else tuple(present)
        return self._detection(base.rule, entity, signal)

    def _propagate(self, rid: str, signal: Signal, doc: Doc | None, out: list[Detection]) -> None:
        for cid in self._consumers.get(rid, ()):
            corr = self.correlations[cid]
            spec = corr.state.spec
            group = _group(spec.group_by, doc, signal)
            if group is None:
                continue
            fed = signal
            if spec.value_field is not None:
                value = _text(get_value(doc, spec.value_field)) if doc is not None else None
                fed = Signal(  # not dataclasses.replace: this runs per event
                    signal.rule_id,
                    signal.first,
                    signal.last,
                    signal.event_ids,
                    signal.count,
                    signal.group,
                    value,
                    signal.org,
                )
            fired = corr.state.add(group, fed)
            if fired is not None:
                out.append(self._correlated(corr.rule, spec, fired))
                pairs = tuple(zip(spec.group_by, fired.group, strict=True))
                chained = Signal(
                    cid, fired.first, fired.last, fired.event_ids, fired.count, pairs, org=fired.org
                )
                self._propagate(cid, chained, None, out)

    def _correlated(self, rule: Rule, spec: CorrelationSpec, fired: Firing) -> Detection:
        entity = tuple(zip(spec.group_by, fired.group, strict=True))
        signal = Signal(
            rule.id, fired.first, fired.last, fired.event_ids, fired.count, org=fired.org
        )
        return self._detection(rule, entity, signal)

    def _detection(
        self,
        rule: Rule,
        entity: tuple[tuple[str, str], ...],
        signal: Signal,
    ) -> Detection:
        return Detection(
            rule_id=rule.id,
            rule_title=rule.title,
            severity=rule.level,
            entity=entity,
            event_ids=signal.event_ids,
            first_event_time=signal.first,
            last_event_time=signal.last,
            count=signal.count,
            engine=self.engine,
            tags=rule.tags,
            detected_at=self._clock(),
            responses=rule.responses,
            org_path=signal.org,
        )


def _group(fields: Sequence[str], doc: Doc | None, signal: Signal) -> tuple[str, ...] | None:
    """Group-by values from the document, or from the firing correlation's group."""
    if doc is None:
        known = dict(signal.group)
        values = [known.get(f) for f in fields]
    else:
        values = [_text(get_value(doc, f)) for f in fields]
    if any(v is None for v in values):
        return None
    return tuple(v for v in values if v is not None)


__all__ = ["DetectionCore", "Hours", "NewTerms", "correlation_spec", "event_id", "event_time"]
