"""The embedded alert store (default): one SQLite file, optimistic concurrency by row version.

``replace`` is ``UPDATE … WHERE id = ? AND version = ?``: a writer holding a stale copy changes
no row and gets :class:`AlertVersionConflict`, so concurrent triage never loses a write.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from siem.alerts.codec import format_time, from_document, to_document
from siem.alerts.errors import AlertStoreUnavailable, AlertVersionConflict
from siem.alerts.model import Alert, AlertFilter, AlertPage, AlertStatus
from siem.alerts.sqlite_connect import connect

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS siem_alerts (
    id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT NOT NULL,
    last_event_time TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS siem_alerts_group ON siem_alerts(group_key, last_event_time);
CREATE INDEX IF NOT EXISTS siem_alerts_last ON siem_alerts(last_event_time);
CREATE INDEX IF NOT EXISTS siem_alerts_status ON siem_alerts(status, last_event_time);
"""


class SqliteAlertStore:
    """Alerts in ``path`` (``:memory:`` for tests)."""

    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._open()

    def _open(self) -> sqlite3.Connection:
        """Connect (again, after :meth:`close`: an ASGI lifespan may close a store that lives on)."""
        if self._conn is not None:
            return self._conn
        conn = connect(self._path, _SCHEMA, what="embedded alert")
        self._conn = conn
        return conn

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._open()
            try:
                yield conn
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise AlertStoreUnavailable("The embedded alert database failed.") from exc

    def create(self, alert: Alert) -> Alert:
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO siem_alerts VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                    (*_columns(alert), _json(alert)),
                )
        except sqlite3.IntegrityError as exc:
            raise AlertVersionConflict("an alert with this id exists") from exc
        return alert.evolve(version="1")

    def get(self, alert_id: str) -> Alert | None:
        with self._db() as db:
            row = db.execute(
                "SELECT doc, version FROM siem_alerts WHERE id = ?", (alert_id,)
            ).fetchone()
        return from_document(json.loads(row[0]), str(row[1])) if row else None

    def replace(self, alert: Alert) -> Alert:
        try:
            expected = int(alert.version)
        except ValueError:
            raise AlertVersionConflict("the alert has no stored version") from None
        alert_id, *rest = _columns(alert)
        with self._db() as db:
            cursor = db.execute(
                "UPDATE siem_alerts SET group_key = ?, rule_id = ?, severity = ?, status = ?,"
                " assignee = ?, last_event_time = ?, doc = ?, version = version + 1"
                " WHERE id = ? AND version = ?",
                (*rest, _json(alert), alert_id, expected),
            )
        if cursor.rowcount != 1:
            raise AlertVersionConflict("the alert changed since it was read")
        return alert.evolve(version=str(expected + 1))

    def latest_in_group(self, group_key: str, since: dt.datetime) -> Alert | None:
        with self._db() as db:
            row = db.execute(
                "SELECT doc, version FROM siem_alerts WHERE group_key = ?"
                " AND last_event_time >= ? ORDER BY last_event_time DESC, id DESC LIMIT 1",
                (group_key, format_time(since)),
            ).fetchone()
        return from_document(json.loads(row[0]), str(row[1])) if row else None

    def search(self, criteria: AlertFilter) -> AlertPage:
        where, params = _where(criteria)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._db() as db:
            total = db.execute(f"SELECT count(*) FROM siem_alerts{clause}", params).fetchone()[0]  # noqa: S608 - clause built from fixed fragments, values bound
            rows = db.execute(
                f"SELECT doc, version FROM siem_alerts{clause}"  # noqa: S608 - as above
                " ORDER BY last_event_time DESC, id DESC LIMIT ? OFFSET ?",
                (*params, criteria.limit, criteria.offset),
            ).fetchall()
        alerts = tuple(from_document(json.loads(doc), str(version)) for doc, version in rows)
        return AlertPage(alerts, int(total))

    def ping(self) -> None:
        with self._db() as db:
            db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _columns(alert: Alert) -> tuple[str, str, str, str, str, str, str]:
    return (
        alert.id,
        alert.group_key,
        alert.rule_id,
        alert.severity.value,
        alert.status.value,
        alert.assignee,
        format_time(alert.last_event_time),
    )


def _json(alert: Alert) -> str:
    return json.dumps(to_document(alert), separators=(",", ":"), ensure_ascii=False)


def _where(criteria: AlertFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []

    def any_of(column: str, values: tuple[str, ...]) -> None:
        where.append(f"{column} IN ({','.join('?' * len(values))})")
        params.extend(values)

    if criteria.statuses:
        any_of("status", tuple(AlertStatus(s).value for s in criteria.statuses))
    if criteria.severities:
        any_of("severity", tuple(s.value for s in criteria.severities))
    if criteria.rule_id:
        any_of("rule_id", (criteria.rule_id,))
    if criteria.assignee:
        any_of("assignee", (criteria.assignee,))
    if criteria.since is not None:
        where.append("last_event_time >= ?")
        params.append(format_time(criteria.since))
    if criteria.until is not None:
        where.append("last_event_time < ?")
        params.append(format_time(criteria.until))
    if criteria.entity:
        where.append("EXISTS (SELECT 1 FROM json_each(doc, ?) WHERE value = ?)")
        key = "$.entity_terms" if "=" in criteria.entity else "$.entity_values"
        params.extend((key, criteria.entity))
    if criteria.tag:
        where.append("EXISTS (SELECT 1 FROM json_each(doc, '$.tags') WHERE value = ?)")
        params.append(criteria.tag)
    scope = criteria.org_scope.rstrip("/")
    if not criteria.org_scope:
        where.append("0")  # no scope: nothing
    elif scope:  # alert paths are canonical (common_org): an exact, case-sensitive prefix
        where.append(
            "(json_extract(doc, '$.org_path') = ?"
            " OR substr(json_extract(doc, '$.org_path'), 1, ?) = ?)"
        )
        params.extend((scope, len(scope) + 1, scope + "/"))
    return where, params
