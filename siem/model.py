"""Rules and detections: the values the two engines and the alert service share.

Stable contract (the alerts and responses colleagues depend on it; only additive changes):

* :class:`Rule` is a loaded Sigma rule (plain or correlation) reduced to what the rest of the
  platform needs: identity, severity (Sigma ``level``), tags (ATT&CK ``attack.*`` and MLPS 2.0
  ``mlps.l3-ces1-NN``), the false-positive note, where it was read from, and the response actions
  it declares in the custom Sigma field ``x-anbao-response`` (see :class:`ResponseAction`).
* :class:`Detection` is one finding of one rule for one entity: which events raised it (their
  ``event.id``), when (first/last ``@timestamp``), how many, and which engine found it. Both
  engines produce the same :attr:`Detection.key` for the same finding, so the alert service can
  group or de-duplicate across engines.

Why MLPS tags: GB/T 22239-2019 §8.1.4.3 (L3-CES1-12) asks that auditing covers important security
events; the test items (GB/T 28448-2019) are how an assessor checks it, so each rule names the
item it supports.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Iterable
from typing import Final

#: Tag namespace of MLPS 2.0 test items, e.g. ``mlps.l3-ces1-12`` (GB/T 28448-2019 numbering).
MLPS_TAG_RE: Final = re.compile(r"^mlps\.l[1-4]-[a-z]{2,4}[0-9]-[0-9]{2}$")
#: ATT&CK technique tag as Sigma writes it, e.g. ``attack.t1110.003``.
ATTACK_TECHNIQUE_RE: Final = re.compile(r"^attack\.t[0-9]{4}(\.[0-9]{3})?$")
#: The custom Sigma field holding response actions (Sigma spec v2: custom fields are allowed).
RESPONSE_FIELD: Final = "x-anbao-response"


class Severity(enum.StrEnum):
    """Sigma ``level`` (Sigma specification §level), lowest to highest."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 (informational) … 4 (critical), for sorting and thresholds."""
        return list(Severity).index(self)


class Engine(enum.StrEnum):
    """Which engine found a detection."""

    STREAMING = "streaming"
    SCHEDULED = "scheduled"


class RuleKind(enum.StrEnum):
    """A plain Sigma rule, or one of the Sigma correlation types (Sigma correlation spec)."""

    EVENT = "event"
    EVENT_COUNT = "event_count"
    VALUE_COUNT = "value_count"
    TEMPORAL = "temporal"
    TEMPORAL_ORDERED = "temporal_ordered"


class ResponseKind(enum.StrEnum):
    """Response actions a rule may declare (carried out through the IAM package)."""

    DISABLE_USER = "disable_user"
    END_SESSIONS = "end_sessions"
    SUSPEND_SEAL = "suspend_seal"


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseAction:
    """One declared action: ``target`` names the entity field whose value it acts on.

    Destructive actions wait for a human approval unless the rule sets ``approval: false``.
    """

    kind: ResponseKind
    target: str = "user.name"
    approval: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a rule was read from (file path, 1-based line of its document)."""

    path: str
    line: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """A loaded rule. ``tags`` keeps every Sigma tag; ``attack``/``mlps`` are the filtered views.

    ``generate`` is false for a base rule that only feeds a correlation (Sigma correlation spec:
    such rules raise no detection of their own); ``group_by`` and ``timespan_seconds`` are set for
    correlation rules only.
    """

    id: str
    title: str
    level: Severity
    kind: RuleKind = RuleKind.EVENT
    tags: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    description: str = ""
    source: SourceLocation | None = None
    responses: tuple[ResponseAction, ...] = ()
    generate: bool = True
    group_by: tuple[str, ...] = ()
    timespan_seconds: int = 0
    name: str = ""

    @property
    def severity(self) -> Severity:
        """Alias of :attr:`level` (the alert service's word)."""
        return self.level

    @property
    def attack(self) -> tuple[str, ...]:
        """ATT&CK tags (``attack.t1110.003``, ``attack.credential-access``)."""
        return tuple(t for t in self.tags if t.startswith("attack."))

    @property
    def mlps(self) -> tuple[str, ...]:
        """MLPS 2.0 test item tags (``mlps.l3-ces1-02``)."""
        return tuple(t for t in self.tags if t.startswith("mlps."))


@dataclasses.dataclass(frozen=True, slots=True)
class Detection:
    """One finding: rule and entity, with the events that raised it.

    ``entity`` holds ``(field, value)`` pairs in the rule's group-by order (e.g.
    ``(("user.name", "alice"),)`` or ``(("source.ip", "10.0.0.9"),)``); for a plain rule it is the
    first present of ``user.name``, ``source.ip``. ``event_ids`` are the ``event.id`` values of
    the contributing events (capped, see the engines), ``count`` the number of events seen.
    """

    rule_id: str
    rule_title: str
    severity: Severity
    entity: tuple[tuple[str, str], ...]
    event_ids: tuple[str, ...]
    first_event_time: dt.datetime
    last_event_time: dt.datetime
    count: int
    engine: Engine
    tags: tuple[str, ...] = ()
    detected_at: dt.datetime | None = None
    responses: tuple[ResponseAction, ...] = ()
    #: The smallest org subtree holding every contributing event (``organization.path``);
    #: ``""`` when an event had none or a non-canonical one: then the platform's alone.
    org_path: str = ""

    @property
    def key(self) -> str:
        """Stable identity of the finding: rule + entity + first contributing event, hashed.

        Both engines agree on it for the same event set, so an alert store can de-duplicate a
        finding reported by both. (An identifier, not a security control: any hash would do.)
        """
        first = self.event_ids[0] if self.event_ids else ""
        parts = [self.rule_id, *(f"{f}={v}" for f, v in self.entity), first]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (CLI output, webhooks); times in RFC 3339 UTC."""
        return {
            "key": self.key,
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "severity": self.severity.value,
            "entity": dict(self.entity),
            "event_ids": list(self.event_ids),
            "first_event_time": self.first_event_time.isoformat(),
            "last_event_time": self.last_event_time.isoformat(),
            "count": self.count,
            "engine": self.engine.value,
            "tags": list(self.tags),
            "org_path": self.org_path,
            "detected_at": self.detected_at.isoformat() if self.detected_at else None,
            "responses": [
                {"action": r.kind.value, "target": r.target, "approval": r.approval}
                for r in self.responses
            ],
        }

    @property
    def entity_text(self) -> str:
        """``user.name=alice,source.ip=10.0.0.9`` for display and grouping."""
        return ",".join(f"{f}={v}" for f, v in self.entity)


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One lint finding (pySigma validators report findings, not exceptions: house style)."""

    path: str
    line: int
    code: str
    message: str
    error: bool = True

    def __str__(self) -> str:
        kind = "error" if self.error else "warning"
        return f"{self.path}:{self.line}: {kind} [{self.code}] {self.message}"


__all__ = [
    "ATTACK_TECHNIQUE_RE",
    "MLPS_TAG_RE",
    "RESPONSE_FIELD",
    "Detection",
    "Engine",
    "Finding",
    "ResponseAction",
    "ResponseKind",
    "Rule",
    "RuleKind",
    "Severity",
    "SourceLocation",
]


_ODD_SEGMENTS: Final = frozenset({"", ".", ".."})


def common_org(paths: Iterable[str]) -> str:
    """The deepest org path every one of ``paths`` lies in (segment-wise), else ``""``.

    An alert's org scope (issue 16 §2.1): an analyst bound to a subtree sees an alert only when
    all of its events lie there. An empty or non-canonical path (``..``, ``.``, empty
    segments), or none at all, gives ``""``: platform-wide readers only.
    """
    common: list[str] | None = None
    for path in paths:
        segments = path[1:].split("/") if path.startswith("/") else [""]
        if _ODD_SEGMENTS & set(segments):
            return ""
        if common is None:
            common = segments
            continue
        keep = 0
        for mine, theirs in zip(common, segments, strict=False):
            if mine != theirs:
                break
            keep += 1
        common = common[:keep]
    return "/" + "/".join(common) if common else ""
