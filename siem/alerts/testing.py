"""In-memory fakes of the alert and response ports, for unit tests and local experiments."""

from __future__ import annotations

import datetime as dt
import threading

from siem.alerts.errors import AlertVersionConflict
from siem.alerts.model import Alert, AlertFilter, AlertPage, entity_matches, visible


class MemoryAlertStore:
    """Dict-backed :class:`siem.alerts.ports.AlertStore` with integer versions."""

    kind = "memory"

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._lock = threading.Lock()

    def create(self, alert: Alert) -> Alert:
        with self._lock:
            if alert.id in self._alerts:
                raise AlertVersionConflict("an alert with this id exists")
            stored = self._alerts[alert.id] = alert.evolve(version="1")
        return stored

    def get(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def replace(self, alert: Alert) -> Alert:
        with self._lock:
            current = self._alerts.get(alert.id)
            if current is None or current.version != alert.version:
                raise AlertVersionConflict("the alert changed since it was read")
            stored = self._alerts[alert.id] = alert.evolve(version=str(int(alert.version) + 1))
        return stored

    def latest_in_group(self, group_key: str, since: dt.datetime) -> Alert | None:
        found = [
            a
            for a in self._alerts.values()
            if a.group_key == group_key and a.last_event_time >= since
        ]
        return max(found, key=lambda a: (a.last_event_time, a.id), default=None)

    def search(self, criteria: AlertFilter) -> AlertPage:
        found = sorted(
            (a for a in self._alerts.values() if matches(a, criteria)),
            key=lambda a: (a.last_event_time, a.id),
            reverse=True,
        )
        page = found[criteria.offset : criteria.offset + criteria.limit]
        return AlertPage(tuple(page), len(found))

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None


def matches(alert: Alert, c: AlertFilter) -> bool:  # noqa: PLR0911 - one test per criterion
    """The reference semantics of :class:`AlertFilter` (the real stores must agree)."""
    if c.statuses and alert.status not in c.statuses:
        return False
    if c.severities and alert.severity not in c.severities:
        return False
    if c.rule_id and alert.rule_id != c.rule_id:
        return False
    if c.assignee and alert.assignee != c.assignee:
        return False
    if c.since is not None and alert.last_event_time < c.since:
        return False
    if c.until is not None and alert.last_event_time >= c.until:
        return False
    if c.entity and not entity_matches(alert.entity, c.entity):
        return False
    if not visible(c.org_scope, alert):
        return False
    return not (c.tag and c.tag not in alert.tags)
