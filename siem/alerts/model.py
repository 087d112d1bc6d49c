"""Alerts: what an analyst triages, built from the engines' detections.

An :class:`Alert` groups every detection of one rule for one entity that arrives within the
suppression window (Elastic Security's "alert suppression", Wazuh's "frequency/timeframe"): one
alert with an occurrence count and the linked event ids (a bounded list plus the total), rather
than one alert per event. Triage state follows a small, validated life cycle (open →
acknowledged → closed with a reason; a closed alert may be reopened), with an assignee, tags and
append-only notes. GB/T 22239-2019 §8.1.3.5 (L3-SMC1-06/-07, security management centre) asks
that security events are collected, analysed and acted upon: the state and notes are that record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from audit.sensitive.service import in_scope
from siem.alerts.errors import InvalidAlertInput, InvalidTransition
from siem.model import Detection, Engine, Severity, common_org

#: Event ids kept on one alert; the total is always kept (``event_count``).
MAX_EVENT_IDS: Final = 100
#: Detection keys remembered per alert (duplicate detections from both engines are ignored).
MAX_DETECTION_KEYS: Final = 200
MAX_NOTE_CHARS: Final = 4000
MAX_NOTES: Final = 500
MAX_TAGS: Final = 32
_TAG_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_USER_RE: Final = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


class AlertStatus(enum.StrEnum):
    """Triage state."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class CloseReason(enum.StrEnum):
    """Why an alert was closed (needed for false-positive tuning and the MLPS record)."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"
    DUPLICATE = "duplicate"


#: Allowed status changes. Closing needs a reason; reopening clears it.
TRANSITIONS: Final[Mapping[AlertStatus, frozenset[AlertStatus]]] = {
    AlertStatus.OPEN: frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.CLOSED}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.CLOSED, AlertStatus.OPEN}),
    AlertStatus.CLOSED: frozenset({AlertStatus.OPEN}),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Note:
    """One append-only note: who wrote it and when (never edited or removed)."""

    author: str
    at: dt.datetime
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """State of one notification channel for this alert (webhook, smtp)."""

    channel: str
    state: str  # "delivered" | "failed"
    attempts: int
    at: dt.datetime
    error: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Alert:
    """A grouped, triaged finding. ``version`` is the store's opaque concurrency token."""

    id: str
    group_key: str
    rule_id: str
    rule_title: str
    severity: Severity
    entity: tuple[tuple[str, str], ...]
    status: AlertStatus
    count: int
    event_count: int
    event_ids: tuple[str, ...]
    first_event_time: dt.datetime
    last_event_time: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    engines: tuple[Engine, ...] = ()
    rule_tags: tuple[str, ...] = ()
    detection_keys: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    assignee: str = ""
    close_reason: CloseReason | None = None
    #: First time the alert left ``open`` (acknowledged or closed): the triage SLA measure.
    triaged_at: dt.datetime | None = None
    notes: tuple[Note, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    version: str = ""
    #: The alert's org scope: the smallest subtree holding every event that raised it (set at
    #: creation, narrowed never, widened by merges); ``""``: platform-wide readers only.
    org_path: str = ""

    @property
    def entity_text(self) -> str:
        """``user.name=alice`` (fields in the rule's group-by order)."""
        return ",".join(f"{f}={v}" for f, v in self.entity)

    def evolve(self, **changes: Any) -> Alert:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


def group_key(rule_id: str, entity: tuple[tuple[str, str], ...]) -> str:
    """Suppression group: same rule and same entity (an identifier, not a security control)."""
    parts = [rule_id, *(f"{f}={v}" for f, v in entity)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def new_alert(detection: Detection, now: dt.datetime) -> Alert:
    """The first alert of a group; its id is the detection key, so a replay creates nothing."""
    return Alert(
        id=detection.key,
        group_key=group_key(detection.rule_id, detection.entity),
        rule_id=detection.rule_id,
        rule_title=detection.rule_title,
        severity=detection.severity,
        entity=detection.entity,
        status=AlertStatus.OPEN,
        count=1,
        event_count=detection.count,
        event_ids=tuple(dict.fromkeys(detection.event_ids))[:MAX_EVENT_IDS],
        first_event_time=detection.first_event_time,
        last_event_time=detection.last_event_time,
        created_at=now,
        updated_at=now,
        engines=(detection.engine,),
        rule_tags=detection.tags,
        detection_keys=(detection.key,),
        org_path=detection.org_path,
    )


def merge(alert: Alert, detection: Detection, now: dt.datetime) -> Alert:
    """Fold a later detection of the same group into ``alert`` (count, events, times)."""
    ids = tuple(dict.fromkeys((*alert.event_ids, *detection.event_ids)))[:MAX_EVENT_IDS]
    engines = tuple(dict.fromkeys((*alert.engines, detection.engine)))
    keys = (*alert.detection_keys, detection.key)[-MAX_DETECTION_KEYS:]
    return alert.evolve(
        count=alert.count + 1,
        event_count=alert.event_count + detection.count,
        event_ids=ids,
        first_event_time=min(alert.first_event_time, detection.first_event_time),
        last_event_time=max(alert.last_event_time, detection.last_event_time),
        severity=max(alert.severity, detection.severity, key=lambda s: s.rank),
        engines=engines,
        detection_keys=keys,
        updated_at=now,
        org_path=common_org((alert.org_path, detection.org_path)),
    )


def transition(
    alert: Alert, target: AlertStatus, reason: CloseReason | None, now: dt.datetime
) -> Alert:
    """Validated status change: closing needs a reason, other changes take none."""
    if target is alert.status:
        raise InvalidTransition(f"the alert is already {target.value}")
    if target not in TRANSITIONS[alert.status]:
        raise InvalidTransition(f"cannot go from {alert.status.value} to {target.value}")
    if target is AlertStatus.CLOSED and reason is None:
        raise InvalidAlertInput("closing an alert needs a reason", field="reason")
    if target is not AlertStatus.CLOSED and reason is not None:
        raise InvalidAlertInput("a reason is given only when closing", field="reason")
    triaged = alert.triaged_at or (now if target is not AlertStatus.OPEN else None)
    return alert.evolve(status=target, close_reason=reason, updated_at=now, triaged_at=triaged)


def check_user(value: str, field: str) -> str:
    """A user name (assignee, author): printable, at most 128 characters."""
    if not _USER_RE.match(value):
        raise InvalidAlertInput("must be 1-128 printable characters", field=field)
    return value


def check_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """Tags: at most 32, each a short word (letters, digits, ``_.:-``); order kept, no repeats."""
    unique = tuple(dict.fromkeys(tags))
    if len(unique) > MAX_TAGS:
        raise InvalidAlertInput(f"at most {MAX_TAGS} tags", field="tags")
    for tag in unique:
        if not _TAG_RE.match(tag):
            raise InvalidAlertInput(f"invalid tag {tag[:64]!r}", field="tags")
    return unique


def check_note(text: str) -> str:
    """Note text: not blank, at most 4000 characters."""
    if not text.strip():
        raise InvalidAlertInput("a note needs text", field="text")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidAlertInput(f"at most {MAX_NOTE_CHARS} characters", field="text")
    return text


@dataclasses.dataclass(frozen=True, slots=True)
class AlertFilter:
    """List criteria; every given criterion must hold (AND). Times bound ``last_event_time``."""

    statuses: tuple[AlertStatus, ...] = ()
    severities: tuple[Severity, ...] = ()
    rule_id: str = ""
    assignee: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    #: ``field=value`` (exact pair) or a bare value matched against every entity value.
    entity: str = ""
    tag: str = ""
    limit: int = 50
    offset: int = 0
    #: The reader's live org scope: ``/`` everything, ``""`` nothing, else alerts whose
    #: ``org_path`` lies in that subtree (see :func:`visible`).
    org_scope: str = "/"


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """Who acts, as the composition root authenticated them (a verified token, never free text).

    ``name`` is recorded on notes, triage and approvals; ``scope`` is the caller's live org
    scope from the identity authority (``/``: everything, ``""``: nothing).
    """

    name: str
    scope: str = ""
    #: The token's subject: four-eyes compares persons by it (names differ between tokens).
    subject: str = ""


def visible(scope: str, alert: Alert) -> bool:
    """An alert lies in a reader's org scope (``/``: every alert; ``""``: none)."""
    return in_scope(scope, alert.org_path)  # the audit trail's rule: one rule for both


@dataclasses.dataclass(frozen=True, slots=True)
class AlertPage:
    """One page of alerts, newest ``last_event_time`` first, with the total matching."""

    alerts: tuple[Alert, ...]
    total: int


def entity_matches(entity: tuple[tuple[str, str], ...], wanted: str) -> bool:
    """The filter semantics of :attr:`AlertFilter.entity`, shared by the stores."""
    if "=" in wanted:
        field, _, value = wanted.partition("=")
        return (field, value) in entity
    return any(v == wanted for _, v in entity)
