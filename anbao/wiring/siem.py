"""Detection wiring: the streaming engine on the audit shipper, the scheduled engine on the store.

``audit`` never imports ``siem``: the composition root gives the streaming engine to the
shipper as one of its :class:`audit.ports.DeliveryObserver` s, with the alert service behind a
:class:`siem.alerts.service.QueuedSink` so the shipper never waits for the alert store.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path

from anbao.settings import Settings
from anbao.wiring.cluster import cluster_engine
from siem.engines.checkpoints_sql import SqlCheckpoints
from siem.engines.loader import BUILTIN_RULES, RuleSet, load_rules
from siem.engines.scheduled import JsonFileCheckpoints
from siem.engines.streaming import StreamingEngine
from siem.ports import CheckpointStore, DetectionSink


def rule_paths(settings: Settings) -> tuple[Path, ...]:
    """The built-in pack plus ``siem.rules_path`` entries."""
    extra = [Path(p.strip()) for p in settings.siem.rules_path.split(",") if p.strip()]
    return (BUILTIN_RULES, *extra)


@functools.lru_cache(maxsize=8)
def _rules(paths: tuple[Path, ...]) -> RuleSet:
    return load_rules(paths)


def ruleset(settings: Settings) -> RuleSet:
    """The loaded rules (once per process and set of paths); raises ``RuleInvalid`` at start-up."""
    return _rules(rule_paths(settings))


def streaming_engine(
    settings: Settings, sink: DetectionSink, *, clock: Callable[[], dt.datetime]
) -> StreamingEngine:
    """The streaming engine, one of the audit shipper's delivery observers."""
    return StreamingEngine(
        ruleset(settings), sink, clock=clock, working_hours=settings.siem.working_hours_spec()
    )


def scheduled_checkpoints(settings: Settings) -> CheckpointStore:
    """Where the scheduled engine keeps its progress: beside the alerts on one machine; in the
    cluster database when clustered, so the node that takes the job over resumes from it."""
    if settings.cluster.clustered:
        return SqlCheckpoints(cluster_engine(settings))
    return JsonFileCheckpoints(
        Path(settings.siem.alert_sqlite_path).with_name("siem-scheduled.json")
    )
