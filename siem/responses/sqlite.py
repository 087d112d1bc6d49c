"""Response actions in SQLite (the embedded default; the same file as the alerts by default)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from siem.alerts.codec import parse_time
from siem.alerts.errors import ActionStateConflict
from siem.alerts.sqlite_connect import connect
from siem.model import ResponseKind
from siem.responses.model import ActionFilter, ActionRecord, ActionState

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS siem_actions (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    state TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS siem_actions_state ON siem_actions(state, requested_at);
CREATE INDEX IF NOT EXISTS siem_actions_alert ON siem_actions(alert_id);
"""


class SqliteActionStore:
    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._open()

    def _open(self) -> sqlite3.Connection:
        """Connect (again after :meth:`close`; call with the lock held)."""
        if self._conn is not None:
            return self._conn
        conn = connect(self._path, _SCHEMA, what="response action")
        self._conn = conn
        return conn

    def add(self, record: ActionRecord) -> ActionRecord:
        stored = record.evolve(version=1)
        with self._lock:
            self._open().execute(
                "INSERT INTO siem_actions VALUES (?, ?, ?, ?, 1, ?)",
                (
                    stored.id,
                    stored.alert_id,
                    stored.state.value,
                    _when(stored.requested_at),
                    action_doc(stored),
                ),
            )
        return stored

    def get(self, action_id: str) -> ActionRecord | None:
        with self._lock:
            row = (
                self._open()
                .execute("SELECT doc FROM siem_actions WHERE id = ?", (action_id,))
                .fetchone()
            )
        return action_from_doc(json.loads(row[0])) if row else None

    def replace(self, record: ActionRecord) -> ActionRecord:
        stored = record.evolve(version=record.version + 1)
        with self._lock:
            cursor = self._open().execute(
                "UPDATE siem_actions SET state = ?, version = ?, doc = ? WHERE id = ? AND version = ?",
                (stored.state.value, stored.version, action_doc(stored), record.id, record.version),
            )
        if cursor.rowcount != 1:
            raise ActionStateConflict("the action was decided by someone else meanwhile")
        return stored

    def find(self, criteria: ActionFilter) -> Sequence[ActionRecord]:
        where: list[str] = []
        params: list[str] = []
        if criteria.states:
            where.append(f"state IN ({','.join('?' * len(criteria.states))})")
            params.extend(s.value for s in criteria.states)
        if criteria.alert_id:
            where.append("alert_id = ?")
            params.append(criteria.alert_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = (
                self._open()
                .execute(
                    f"SELECT doc FROM siem_actions{clause} ORDER BY requested_at DESC, id DESC LIMIT ?",  # noqa: S608 - fixed fragments, bound values
                    (*params, criteria.limit),
                )
                .fetchall()
            )
        return [action_from_doc(json.loads(r[0])) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _when(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def action_doc(record: ActionRecord) -> str:
    """The stored JSON of an action (also the SQL store's, :mod:`siem.responses.sql`)."""
    return json.dumps(
        record.as_dict()
        | {
            "requested_at": _when(record.requested_at),
            "decided_at": _when(record.decided_at),
            "executed_at": _when(record.executed_at),
        }
    )


def action_from_doc(doc: dict[str, Any]) -> ActionRecord:
    """The action of a stored JSON document (:func:`action_doc`)."""

    def when(key: str) -> dt.datetime | None:
        return parse_time(doc[key]) if doc.get(key) else None

    requested = when("requested_at")
    assert requested is not None  # noqa: S101 - always written
    return ActionRecord(
        id=doc["id"],
        alert_id=doc["alert_id"],
        rule_id=doc["rule_id"],
        kind=ResponseKind(doc["kind"]),
        target_field=doc["target_field"],
        target=doc["target"],
        state=ActionState(doc["state"]),
        approval_required=bool(doc["approval_required"]),
        requested_by=doc["requested_by"],
        requested_at=requested,
        requested_by_id=doc.get("requested_by_id", ""),  # absent in rows from before
        decided_by=doc["decided_by"],
        decided_at=when("decided_at"),
        reason=doc["reason"],
        executed_at=when("executed_at"),
        result=doc["result"],
        error=doc["error"],
        version=int(doc["version"]),
    )
