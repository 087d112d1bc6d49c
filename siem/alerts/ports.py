"""Ports of the alert service: where alerts are kept and where notifications go.

One store port, two adapters (``siem.alerts.sqlite`` default, ``siem.alerts.elasticsearch``)
run the same test suite; ``siem.alerts.testing`` holds an in-memory one for unit tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from siem.alerts.model import Alert, AlertFilter, AlertPage


class AlertStore(Protocol):
    """Alerts by id, with optimistic concurrency on every change.

    ``create`` raises :class:`~siem.alerts.errors.AlertVersionConflict` when the id exists;
    ``replace`` raises it when ``alert.version`` is not the stored version (someone else wrote
    first). Both return the alert with its new version.
    """

    kind: str

    def create(self, alert: Alert) -> Alert:
        """Insert a new alert."""

    def get(self, alert_id: str) -> Alert | None:
        """The alert, or ``None``."""

    def replace(self, alert: Alert) -> Alert:
        """Write ``alert`` if the stored version still equals ``alert.version``."""

    def latest_in_group(self, group_key: str, since: dt.datetime) -> Alert | None:
        """The newest alert of the group (any status) whose last event is at or after ``since``."""

    def search(self, criteria: AlertFilter) -> AlertPage:
        """Matching alerts, newest last event first, with the total."""

    def ping(self) -> None:
        """Raise :class:`~siem.alerts.errors.AlertStoreUnavailable` when unreachable."""

    def close(self) -> None:
        """Release connections."""


class Notifier(Protocol):
    """One notification channel; ``send`` raises on a delivery that finally failed."""

    channel: str

    def send(self, alert: Alert) -> int:
        """Deliver ``alert``; returns the number of attempts it took."""
