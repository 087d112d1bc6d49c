"""Response actions: one row per action, its state and version beside the JSON document.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and its indexes."""
    op.create_table(
        "siem_actions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("alert_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
    )
    op.create_index("ix_siem_actions_alert_id", "siem_actions", ["alert_id"])
    op.create_index("ix_siem_actions_state", "siem_actions", ["state", "requested_at"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("siem_actions")
