"""Detection wiring: the streaming engine on the audit shipper, the scheduled engine on the store.

``audit`` never imports ``siem``: the composition root registers the streaming engine as the
shipper's :class:`audit.ports.DeliveryObserver`, with the alert service behind a
:class:`siem.alerts.service.QueuedSink` so the shipper never waits for the alert store.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path

from anbao.settings import Settings
from anbao.wiring.audit import AuditRuntime
from siem.engines.loader import BUILTIN_RULES, RuleSet, load_rules
from siem.engines.streaming import StreamingEngine
from siem.ports import DetectionSink


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


def attach_streaming(
    runtime: AuditRuntime,
    sink: DetectionSink,
    settings: Settings,
    *,
    clock: Callable[[], dt.datetime],
) -> StreamingEngine:
    """Register the streaming engine on the shipper; returns it (metrics, tests)."""
    engine = StreamingEngine(
        ruleset(settings), sink, clock=clock, working_hours=settings.siem.working_hours_spec()
    )
    runtime.shipper.add_observer(engine)
    return engine
