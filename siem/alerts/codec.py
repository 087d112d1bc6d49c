"""Alerts as JSON documents: one shape for both stores, the HTTP API and the CLI.

Times are RFC 3339 UTC with milliseconds (the ECS ``@timestamp`` form); the entity is kept both
as ordered pairs (``entity``) and as flat ``field=value`` words (``entity_terms``) so a store
can match one pair with a term query or an index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from siem.alerts.model import Alert, AlertStatus, CloseReason, Delivery, Note
from siem.model import Engine, Severity


def format_time(value: dt.datetime) -> str:
    """RFC 3339, UTC, millisecond precision, ``Z`` suffix."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> dt.datetime:
    """The inverse of :func:`format_time` (any RFC 3339 offset accepted)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("time without offset")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 lies before the first UTC instant
        raise ValueError("time outside the years 1-9999 in UTC") from None


def to_document(alert: Alert) -> dict[str, Any]:
    """The stored and served form (``version`` is the store's and stays outside)."""
    return {
        "id": alert.id,
        "group_key": alert.group_key,
        "rule": {"id": alert.rule_id, "title": alert.rule_title, "tags": list(alert.rule_tags)},
        "severity": alert.severity.value,
        "severity_rank": alert.severity.rank,
        "entity": [{"field": f, "value": v} for f, v in alert.entity],
        "entity_terms": [f"{f}={v}" for f, v in alert.entity],
        "entity_values": [v for _, v in alert.entity],
        "status": alert.status.value,
        "count": alert.count,
        "event_count": alert.event_count,
        "event_ids": list(alert.event_ids),
        "first_event_time": format_time(alert.first_event_time),
        "last_event_time": format_time(alert.last_event_time),
        "created_at": format_time(alert.created_at),
        "updated_at": format_time(alert.updated_at),
        "engines": [e.value for e in alert.engines],
        "detection_keys": list(alert.detection_keys),
        "tags": list(alert.tags),
        "assignee": alert.assignee,
        "org_path": alert.org_path,
        "close_reason": alert.close_reason.value if alert.close_reason else None,
        "triaged_at": format_time(alert.triaged_at) if alert.triaged_at else None,
        "notes": [
            {"author": n.author, "at": format_time(n.at), "text": n.text} for n in alert.notes
        ],
        "deliveries": [
            {
                "channel": d.channel,
                "state": d.state,
                "attempts": d.attempts,
                "at": format_time(d.at),
                "error": d.error,
            }
            for d in alert.deliveries
        ],
    }


def from_document(doc: Mapping[str, Any], version: str) -> Alert:
    """Rebuild an alert read from a store."""
    rule = doc["rule"]
    reason = doc.get("close_reason")
    return Alert(
        id=doc["id"],
        group_key=doc["group_key"],
        rule_id=rule["id"],
        rule_title=rule["title"],
        rule_tags=tuple(rule.get("tags", ())),
        severity=Severity(doc["severity"]),
        entity=tuple((e["field"], e["value"]) for e in doc["entity"]),
        status=AlertStatus(doc["status"]),
        count=int(doc["count"]),
        event_count=int(doc["event_count"]),
        event_ids=tuple(doc["event_ids"]),
        first_event_time=parse_time(doc["first_event_time"]),
        last_event_time=parse_time(doc["last_event_time"]),
        created_at=parse_time(doc["created_at"]),
        updated_at=parse_time(doc["updated_at"]),
        engines=tuple(Engine(e) for e in doc.get("engines", ())),
        detection_keys=tuple(doc.get("detection_keys", ())),
        tags=tuple(doc.get("tags", ())),
        assignee=doc.get("assignee", ""),
        org_path=str(doc.get("org_path", "")),
        close_reason=CloseReason(reason) if reason else None,
        triaged_at=parse_time(doc["triaged_at"]) if doc.get("triaged_at") else None,
        notes=tuple(
            Note(n["author"], parse_time(n["at"]), n["text"]) for n in doc.get("notes", ())
        ),
        deliveries=tuple(
            Delivery(d["channel"], d["state"], int(d["attempts"]), parse_time(d["at"]), d["error"])
            for d in doc.get("deliveries", ())
        ),
        version=version,
    )
