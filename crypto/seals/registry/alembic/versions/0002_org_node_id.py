"""Seals store the id of their org node (issue 16 §2.1: scoping compares node ids).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

Seals applied for before this revision keep an empty node id: only seal admins see them until
an operator re-applies them under a node (an org-admin's scope cannot be proven for them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the node id column."""
    with op.batch_alter_table("seal_registry_seals") as batch:
        batch.add_column(sa.Column("org_node_id", sa.String(64), nullable=False, server_default=""))
        batch.create_index("ix_seal_registry_seals_org_node_id", ["org_node_id"])


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("seal_registry_seals") as batch:
        batch.drop_index("ix_seal_registry_seals_org_node_id")
        batch.drop_column("org_node_id")
