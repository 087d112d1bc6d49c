"""SQL store of runs, waivers and issued reports (SQLAlchemy 2 Core; SQLite by default).

Follows the seal registry's approach: portable types, Alembic migrations shipped in the package
(:mod:`policies.runs.migrations`, run when the store opens). A run's results are stored as the JSON of
:mod:`policies.runs.codec`, so a stored run reads back exactly as it was evaluated.
"""

from __future__ import annotations

import json
import threading

import sqlalchemy as sa

from policies.errors import (
    AlreadySigned,
    RunNotFound,
    StoreUnavailable,
    WaiverNotFound,
    WaiverStateConflict,
)
from policies.model import Run, Waiver, WaiverState
from policies.ports import IssuedReport
from policies.runs import codec

metadata = sa.MetaData()
VERSION_TABLE = "compliance_alembic_version"

runs = sa.Table(
    "compliance_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("signed", sa.Boolean, nullable=False, default=False),
)

reports = sa.Table(
    "compliance_issued_reports",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("media_type", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Column("seal_signature", sa.LargeBinary, nullable=False),
)

waivers = sa.Table(
    "compliance_waivers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("control_id", sa.String(64), nullable=False, index=True),
    # The four-eyes state, apart from the body so a decision is one compare-and-set.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)


class SqlRunStore:
    """:class:`policies.ports.RunStore` on SQLAlchemy Core."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._migrated = False
        self._lock = threading.Lock()

    def _ready(self) -> None:
        """Migrate on first use (not when the app is built); a concurrent first start-up by
        another process may win the race, so one failed attempt is retried."""
        if self._migrated:
            return
        from policies.runs.migrations import MIGRATIONS  # noqa: PLC0415 - alembic's env imports this module

        with self._lock:
            if not self._migrated:
                try:
                    MIGRATIONS.upgrade(self.engine)
                except StoreUnavailable:
                    MIGRATIONS.upgrade(self.engine)
                self._migrated = True

    def add_run(self, run: Run) -> None:
        self._ready()
        with self.engine.begin() as conn:
            conn.execute(sa.insert(runs).values(
                id=run.id, started_at=run.started_at, body=json.dumps(codec.run_dict(run)),
                signed=False))  # fmt: skip

    def get_run(self, run_id: str) -> Run | None:
        self._ready()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs.c.body).where(runs.c.id == run_id)).first()
        return codec.run_from_dict(json.loads(row[0])) if row else None

    def runs(self, limit: int = 100) -> list[Run]:
        self._ready()
        stmt = sa.select(runs.c.body).order_by(runs.c.started_at.desc(), runs.c.id.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.limit(limit)).all()
        return [codec.run_from_dict(json.loads(r[0])) for r in rows]

    def set_signoff(self, run: Run, report: IssuedReport) -> None:
        self._ready()
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run.id, runs.c.signed.is_(False))
                .values(body=json.dumps(codec.run_dict(run)), signed=True)
            )
            if done.rowcount != 1:
                exists = conn.execute(sa.select(runs.c.id).where(runs.c.id == run.id)).first()
                raise AlreadySigned(f"run {run.id} is already signed") if exists else RunNotFound()
            conn.execute(sa.insert(reports).values(
                run_id=report.run_id, media_type=report.media_type, content=report.content,
                signature=report.signature, seal_signature=report.seal_signature))  # fmt: skip

    def issued(self, run_id: str) -> IssuedReport | None:
        self._ready()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(reports).where(reports.c.run_id == run_id)).first()
        if row is None:
            return None
        return IssuedReport(row.run_id, row.media_type, bytes(row.content), bytes(row.signature),
                            bytes(row.seal_signature))  # fmt: skip

    def put_waiver(self, waiver: Waiver) -> None:
        self._ready()
        body = json.dumps(codec.waiver_dict(waiver))
        with self.engine.begin() as conn:
            conn.execute(sa.delete(waivers).where(waivers.c.id == waiver.id))
            conn.execute(sa.insert(waivers).values(id=waiver.id, control_id=waiver.control_id,
                                                   state=waiver.state.value, body=body))  # fmt: skip

    def decide_waiver(self, waiver: Waiver) -> None:
        """Write the decision only if the stored waiver is still pending: of two concurrent
        decisions one wins, the other gets WaiverStateConflict."""
        self._ready()
        body = json.dumps(codec.waiver_dict(waiver))
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(waivers)
                .where(waivers.c.id == waiver.id, waivers.c.state == WaiverState.PENDING.value)
                .values(state=waiver.state.value, body=body)
            )
            if done.rowcount != 1:
                exists = conn.execute(sa.select(waivers.c.id).where(waivers.c.id == waiver.id))
                if exists.first() is None:
                    raise WaiverNotFound(f"no waiver {waiver.id!r}")
                raise WaiverStateConflict("the waiver was decided already")

    def delete_waiver(self, waiver_id: str) -> bool:
        self._ready()
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(waivers).where(waivers.c.id == waiver_id)).rowcount > 0

    def waivers(self) -> list[Waiver]:
        self._ready()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(waivers.c.body).order_by(waivers.c.id)).all()
        return [codec.waiver_from_dict(json.loads(r[0])) for r in rows]
