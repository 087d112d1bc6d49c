"""Console sessions and pending logins: SM3 of the id, the sealed record, its expiry.

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
    """Create the tables."""
    for name in ("console_sessions", "console_logins"):
        op.create_table(
            name,
            sa.Column("key", sa.LargeBinary(32), primary_key=True),
            sa.Column("sealed", sa.LargeBinary, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
        op.create_index(f"ix_{name}_expires_at", name, ["expires_at"])


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("console_logins")
    op.drop_table("console_sessions")
