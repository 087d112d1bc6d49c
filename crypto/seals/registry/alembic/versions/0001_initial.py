"""Initial seal registry schema: seals, wrapped keys, CA certificates, revocations, CRLs.

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
        "seal_registry_seals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("es_id", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("org_path", sa.String(512), nullable=False),
        sa.Column("org_name", sa.String(256), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("holders", sa.JSON, nullable=False),
        sa.Column("picture_type", sa.String(8), nullable=False),
        sa.Column("picture", sa.LargeBinary, nullable=False),
        sa.Column("width_mm", sa.Integer, nullable=False),
        sa.Column("height_mm", sa.Integer, nullable=False),
        sa.Column("valid_days", sa.Integer, nullable=False),
        sa.Column("applicant", sa.String(128), nullable=False),
        sa.Column("applicant_name", sa.String(256), nullable=False),
        sa.Column("approver", sa.String(128), nullable=False),
        sa.Column("maker", sa.String(128), nullable=False),
        sa.Column("valid_start", sa.DateTime(timezone=True)),
        sa.Column("valid_end", sa.DateTime(timezone=True)),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("cert_serial", sa.String(64), nullable=False),
        sa.Column("cert_der", sa.LargeBinary, nullable=False),
        sa.Column("seal_der", sa.LargeBinary, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revocation_reason", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seal_registry_seals_state", "seal_registry_seals", ["state"])
    op.create_index("ix_seal_registry_seals_org_path", "seal_registry_seals", ["org_path"])
    op.create_table(
        "seal_registry_keys",
        sa.Column("key_id", sa.String(128), primary_key=True),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seal_registry_keys_kek_id", "seal_registry_keys", ["kek_id"])
    op.create_table(
        "seal_registry_ca_entities",
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("cert_der", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
    )
    op.create_table(
        "seal_registry_ca_revocations",
        sa.Column("issuer", sa.String(16), primary_key=True),
        sa.Column("serial", sa.String(64), primary_key=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
    )
    op.create_table(
        "seal_registry_ca_crls",
        sa.Column("issuer", sa.String(16), primary_key=True),
        sa.Column("crl_number", sa.Integer, nullable=False),
        sa.Column("crl_der", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    """Drop the tables."""
    for table in (
        "seal_registry_ca_crls",
        "seal_registry_ca_revocations",
        "seal_registry_ca_entities",
        "seal_registry_keys",
        "seal_registry_seals",
    ):
        op.drop_table(table)
