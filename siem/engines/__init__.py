"""Detection engines: Sigma rules (pySigma) run over the audit trail, two ways, one vocabulary.

A room of its own because detection is one job with two schedules that must agree: the
streaming engine matches each event as the shipper delivers it (rules compiled once to
in-process predicates), the scheduled engine runs the same rules as Lucene queries on the
store. Both share the rule loader, the ``anbao`` field pipeline and correlation state, and hand
detections to a :class:`siem.ports.DetectionSink`. The Elasticsearch event source
(``siem.engines.elasticsearch``) is imported by module.
"""

from siem.engines.core import DetectionCore
from siem.engines.lint import lint
from siem.engines.loader import BUILTIN_RULES, RuleSet, load_rules
from siem.engines.pipeline import anbao_pipeline
from siem.engines.scheduled import JsonFileCheckpoints, ScheduledEngine, lucene_query
from siem.engines.streaming import StreamingEngine

__all__ = [
    "BUILTIN_RULES",
    "DetectionCore",
    "JsonFileCheckpoints",
    "RuleSet",
    "ScheduledEngine",
    "StreamingEngine",
    "anbao_pipeline",
    "lint",
    "load_rules",
    "lucene_query",
]
