"""Initial compliance schema: runs, issued (signed) reports, waivers.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "compliance_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("signed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_compliance_runs_started_at", "compliance_runs", ["started_at"])
    op.create_table(
        "compliance_issued_reports",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("seal_signature", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "compliance_waivers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_compliance_waivers_control_id", "compliance_waivers", ["control_id"])


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("compliance_waivers")
    op.drop_table("compliance_issued_reports")
    op.drop_table("compliance_runs")
