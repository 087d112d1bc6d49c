"""Four-eyes waivers: a ``state`` column, and existing waivers rewritten as pending requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Before this revision a waiver's approver was free text typed by whoever made the waiver
(issue 16 §2.4): nothing shows a second person approved it. So an existing waiver becomes a
*pending* request of the officer who created it (``created_by``, empty when unknown), its typed
name kept as ``legacy_approver`` for the record; it counts again only once another compliance
officer approves it. Counting it as approved would keep an unauthenticated approval in force
(deny by default); after the upgrade its control shows as failing until someone decides it,
which the operator sees on the next run. Downgrade writes approved waivers back with their
decider as approver; pending and rejected ones are kept but expire at their request time, so
the old code never counts an approval that was not given.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_waivers = sa.table(
    "compliance_waivers",
    sa.column("id", sa.String),
    sa.column("state", sa.String),
    sa.column("body", sa.Text),
)


def _new(old: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": old["id"], "control_id": old["control_id"], "justification": old["justification"],
        "state": "pending", "requested_by": old.get("created_by", ""), "requested_by_id": "",
        "requested_at": old["created_at"], "expires_at": old["expires_at"], "decided_by": "",
        "decided_by_id": "", "decided_at": None, "reason": "",
        "legacy_approver": old.get("approver", ""),
    }  # fmt: skip


def _old(new: dict[str, Any]) -> dict[str, Any]:
    approved = new["state"] == "approved"
    return {
        "id": new["id"], "control_id": new["control_id"], "justification": new["justification"],
        "approver": new["decided_by"] if approved else new["legacy_approver"],
        "created_at": new["requested_at"],
        "expires_at": new["expires_at"] if approved else new["requested_at"],
        "created_by": new["requested_by"],
    }  # fmt: skip


def _rewrite(convert: Any) -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(_waivers.c.id, _waivers.c.body)).all():
        body = convert(json.loads(row.body))
        conn.execute(
            sa.update(_waivers)
            .where(_waivers.c.id == row.id)
            .values(body=json.dumps(body), state=body.get("state", "pending"))
        )


def upgrade() -> None:
    """Add the state column (every existing waiver pending), rewrite the bodies."""
    with op.batch_alter_table("compliance_waivers") as batch:
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="pending")
        )
    with op.batch_alter_table("compliance_waivers") as batch:
        batch.alter_column("state", server_default=None)
    _rewrite(_new)


def downgrade() -> None:
    """Back to free-text approvers (approved ones keep counting; others never do)."""
    _rewrite(_old)
    with op.batch_alter_table("compliance_waivers") as batch:
        batch.drop_column("state")
