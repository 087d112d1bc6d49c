"""The scheduled engine: the same rules, converted by pySigma's Elasticsearch (Lucene) backend and
run against the audit store over a look-back window.

Each run covers ``[start, end)`` with ``end = now - lag`` (events still being indexed are left
for the next run) and ``start = previous end - overlap`` (late-indexed events are caught), on the
first run ``end - lookback``. Every base rule's Lucene query is run over the window (the
:class:`siem.ports.EventSource`); the hits are merged per event, ordered by
``(@timestamp, event.id)``, and events already processed in an earlier run (the overlap) are
skipped, so each event is evaluated exactly once and no detection is raised twice. The merged,
ordered matches then go through :class:`siem.engines.core.DetectionCore`, exactly as in the streaming
engine.

Correlations: the Lucene backend has no correlation support (only the ES|QL backend has, and
its ``value_count``/``temporal`` forms do not cover ``temporal_ordered`` nor chained
correlations), so the correlation is **computed over the queried events** by the shared state
machines of :mod:`siem.engines.correlate` — which is what makes the two engines agree on the same event
set. Sigma ``fieldref`` items (field equals field) cannot be written in Lucene: they are dropped
from the query (a superset) and the rule's compiled predicate re-checks each hit.

Limits (docs/siem-rules.md): an event indexed later than ``overlap`` after its ``@timestamp`` is
not seen; correlation state lives in memory (a restart starts windows afresh; the checkpoint
keeps the window end, so nothing is evaluated twice).
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaFieldReference

from siem.engines.core import DetectionCore, event_id, event_time
from siem.engines.loader import RuleSet
from siem.engines.matcher import Predicate, compile_rule
from siem.engines.pipeline import elasticsearch_pipeline
from siem.engines.vendor.es_lucene import LuceneBackend
from siem.errors import RuleUnsupported
from siem.model import Detection, Engine
from siem.ports import CheckpointStore, DetectionSink, EventSource

log = logging.getLogger("anbao.siem.scheduled")

_CHECKPOINT: Final = "siem.scheduled"
_MAX_SEEN: Final = 1_000_000


def _strip_fieldrefs(detection: SigmaDetection) -> bool:
    """Drop field-reference items in place; True when any was dropped."""
    dropped = False
    kept: list[SigmaDetectionItem | SigmaDetection] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            dropped |= _strip_fieldrefs(item)
            kept.append(item)
        elif any(isinstance(v, SigmaFieldReference) for v in item.value):
            dropped = True
        else:
            kept.append(item)
    detection.detection_items = kept
    return dropped


def lucene_query(rule: SigmaRule) -> tuple[str, bool]:
    """(Lucene query of the rule, whether hits need the predicate re-check)."""
    work = copy.deepcopy(rule)
    work._output = True  # base rules of correlations are queried too
    recheck = False
    for detection in work.detection.detections.values():
        recheck |= _strip_fieldrefs(detection)
    try:
        queries = LuceneBackend(processing_pipeline=elasticsearch_pipeline()).convert_rule(work)
    except SigmaError as exc:
        raise RuleUnsupported(f"{rule.title}: {exc}") from exc
    if len(queries) != 1 or not isinstance(queries[0], str):
        raise RuleUnsupported(f"{rule.title}: expected one Lucene query, got {len(queries)}")
    return queries[0], recheck


class ScheduledEngine:
    """Runs the rule pack against the store; call :meth:`run_once` on a schedule."""

    def __init__(
        self,
        ruleset: RuleSet,
        source: EventSource,
        sink: DetectionSink,
        *,
        clock: Callable[[], dt.datetime],
        lookback: dt.timedelta = dt.timedelta(minutes=15),
        overlap: dt.timedelta = dt.timedelta(minutes=2),
        lag: dt.timedelta = dt.timedelta(seconds=5),
        checkpoints: CheckpointStore | None = None,
        max_groups: int = 100_000,
        working_hours: Mapping[str, Any] | None = None,
    ) -> None:
        self._source, self._sink, self._clock = source, sink, clock
        self.lookback, self.overlap, self.lag = lookback, overlap, lag
        self._checkpoints = checkpoints
        self._core = DetectionCore(
            ruleset,
            Engine.SCHEDULED,
            clock=clock,
            max_groups=max_groups,
            working_hours=working_hours,
        )
        self.queries: dict[str, str] = {}
        self._recheck: dict[str, Predicate] = {}
        for rule in ruleset.rules:
            sigma = ruleset.sigma[rule.id]
            if isinstance(sigma, SigmaCorrelationRule):
                continue
            query, recheck = lucene_query(sigma)
            self.queries[rule.id] = query
            if recheck:
                self._recheck[rule.id] = compile_rule(list(sigma.detection.parsed_condition))
        self._seen: collections.OrderedDict[str, dt.datetime] = collections.OrderedDict()
        self.last_end: dt.datetime | None = self._load_end()
        self._floor: dt.datetime | None = self.last_end

    def _load_end(self) -> dt.datetime | None:
        state = self._checkpoints.load(_CHECKPOINT) if self._checkpoints else None
        if state and isinstance(state.get("end"), str):
            return dt.datetime.fromisoformat(state["end"])
        return None

    def window(self, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
        """The ``[start, end)`` the next run covers."""
        end = (now or self._clock()) - self.lag
        if self.last_end is None:
            return end - self.lookback, end
        start = max(self.last_end - self.overlap, end - self.lookback)
        # Restarted from a checkpoint: which events before the saved end were evaluated is not
        # known, so never read before it again (no double detections; an event indexed late
        # across a restart can be missed — docs/siem-rules.md).
        return (max(start, self._floor) if self._floor else start), end

    def collect(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[Mapping[str, Any], list[str]]]:
        """Every not-yet-processed event in the window with the base rules it matched, ordered."""
        docs: dict[str, Mapping[str, Any]] = {}
        matched: dict[str, list[str]] = collections.defaultdict(list)
        for rid, query in self.queries.items():
            check = self._recheck.get(rid)
            for doc in self._source.search(query, start, end):
                eid = event_id(doc)
                if eid in self._seen or (check is not None and not check(doc)):
                    continue
                docs[eid] = doc
                matched[eid].append(rid)
        ordered = sorted(docs.items(), key=lambda kv: (event_time(kv[1]), kv[0]))
        order = {rid: i for i, rid in enumerate(self.queries)}
        return [(doc, sorted(matched[eid], key=order.__getitem__)) for eid, doc in ordered]

    def run_once(self, now: dt.datetime | None = None) -> list[Detection]:
        """One scheduled run; detections go to the sink and are returned."""
        start, end = self.window(now)
        if end <= start:
            return []
        found: list[Detection] = []
        for doc, rules in self.collect(start, end):
            found += self._core.process(doc, rules)
            self._remember(event_id(doc), event_time(doc))
        self._forget(start)
        self.last_end = end
        if self._checkpoints is not None:
            self._checkpoints.save(_CHECKPOINT, {"end": end.isoformat()})
        if found:
            self._sink.emit(found)
        return found

    def _remember(self, eid: str, when: dt.datetime) -> None:
        self._seen[eid] = when
        if len(self._seen) > _MAX_SEEN:
            self._seen.popitem(last=False)

    def _forget(self, start: dt.datetime) -> None:
        """Processed ids older than the next window's start cannot come again."""
        horizon = start - self.overlap
        stale = [eid for eid, when in self._seen.items() if when < horizon]
        for eid in stale:
            del self._seen[eid]


class JsonFileCheckpoints:
    """:class:`siem.ports.CheckpointStore` in one small JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, name: str) -> Mapping[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        value = data.get(name) if isinstance(data, dict) else None
        return value if isinstance(value, dict) else None

    def save(self, name: str, state: Mapping[str, Any]) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data[name] = dict(state)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.path)


__all__ = ["JsonFileCheckpoints", "ScheduledEngine", "lucene_query"]
