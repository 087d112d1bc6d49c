"""The shared Keycloak event cursor: one row per realm stream.

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
    """Create the table."""
    op.create_table(
        "keycloak_event_cursor",
        sa.Column("stream", sa.String(256), primary_key=True),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        sa.Column("seen", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("keycloak_event_cursor")
