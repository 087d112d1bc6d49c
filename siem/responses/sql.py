"""Response actions on SQLAlchemy Core: the clustered deployment's store (PostgreSQL).

Same contract as :class:`siem.responses.sqlite.SqliteActionStore`, for several Anbao nodes
sharing one table: an action requested through node A is approved through node B. Four-eyes
holds across nodes because every decision is one conditional ``UPDATE … WHERE version = n``: when
two nodes decide the same action at once, PostgreSQL's row lock makes the second wait for the
first, re-read the row and find the version moved, so it updates nothing and gets
``ActionStateConflict``; exactly one decision (and so one execution) wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from audit.sql.engine import MigratedOnFirstUse, Migrations
from siem.alerts.errors import ActionStateConflict, AlertStoreUnavailable
from siem.responses.model import ActionFilter, ActionRecord
from siem.responses.sqlite import action_doc, action_from_doc

VERSION_TABLE: Final = "siem_actions_alembic_version"
metadata = sa.MetaData()
actions = sa.Table(
    "siem_actions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(128), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("ix_siem_actions_state", "state", "requested_at"),
)

MIGRATIONS: Final = Migrations(
    Path(__file__).parent / "alembic",
    VERSION_TABLE,
    name="response action store",
    error=AlertStoreUnavailable,
)


class SqlActionStore:
    """:class:`siem.responses.ports.ActionStore` in a SQL database (PostgreSQL when clustered)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = MigratedOnFirstUse(engine, MIGRATIONS)

    def _run(self, work: Callable[[sa.Connection], Any]) -> Any:
        return self._engine.run(work, "The response action database does not answer.")

    def add(self, record: ActionRecord) -> ActionRecord:
        stored = record.evolve(version=1)
        insert = sa.insert(actions).values(
            id=stored.id,
            alert_id=stored.alert_id,
            state=stored.state.value,
            requested_at=stored.requested_at,
            version=1,
            doc=action_doc(stored),
        )
        self._run(lambda conn: conn.execute(insert))
        return stored

    def get(self, action_id: str) -> ActionRecord | None:
        stmt = sa.select(actions.c.doc).where(actions.c.id == action_id)
        doc = self._run(lambda conn: conn.execute(stmt).scalar())
        return action_from_doc(json.loads(doc)) if doc is not None else None

    def replace(self, record: ActionRecord) -> ActionRecord:
        stored = record.evolve(version=record.version + 1)
        update = (
            sa.update(actions)
            .where(actions.c.id == record.id, actions.c.version == record.version)
            .values(state=stored.state.value, version=stored.version, doc=action_doc(stored))
        )
        if self._run(lambda conn: conn.execute(update).rowcount) != 1:
            raise ActionStateConflict("the action was decided by someone else meanwhile")
        return stored

    def find(self, criteria: ActionFilter) -> Sequence[ActionRecord]:
        stmt = sa.select(actions.c.doc)
        if criteria.states:
            stmt = stmt.where(actions.c.state.in_([s.value for s in criteria.states]))
        if criteria.alert_id:
            stmt = stmt.where(actions.c.alert_id == criteria.alert_id)
        stmt = stmt.order_by(actions.c.requested_at.desc(), actions.c.id.desc())
        docs = self._run(lambda conn: conn.execute(stmt.limit(criteria.limit)).scalars().all())
        return [action_from_doc(json.loads(doc)) for doc in docs]

    def close(self) -> None:
        """Nothing to close: the engine is the process's (one pool per cluster database)."""
