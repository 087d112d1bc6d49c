"""SQLAlchemy 2 table definitions of the seal registry (one ``MetaData``, used by Alembic).

Portable types only, so the same migrations run on SQLite (default, development) and
PostgreSQL (production): binary columns are ``LargeBinary`` (bytea / BLOB), times are
timezone-aware (SQLite stores the text; the adapter re-attaches UTC on read).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

seals = sa.Table(
    "seal_registry_seals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("es_id", sa.String(64), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("org_path", sa.String(512), nullable=False, index=True),
    sa.Column("org_node_id", sa.String(64), nullable=False, index=True, server_default=""),
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
    sa.Column("approver", sa.String(128), nullable=False, default=""),
    sa.Column("maker", sa.String(128), nullable=False, default=""),
    sa.Column("valid_start", sa.DateTime(timezone=True)),
    sa.Column("valid_end", sa.DateTime(timezone=True)),
    sa.Column("key_id", sa.String(128), nullable=False, default=""),
    sa.Column("cert_serial", sa.String(64), nullable=False, default=""),
    sa.Column("cert_der", sa.LargeBinary, nullable=False),
    sa.Column("seal_der", sa.LargeBinary, nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("revocation_reason", sa.String(64), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

wrapped_keys = sa.Table(
    "seal_registry_keys",
    metadata,
    sa.Column("key_id", sa.String(128), primary_key=True),
    sa.Column("label", sa.String(128), nullable=False),
    sa.Column("kek_id", sa.String(64), nullable=False, index=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

ca_entities = sa.Table(
    "seal_registry_ca_entities",
    metadata,
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Column("cert_der", sa.LargeBinary, nullable=False),
    sa.Column("key_id", sa.String(128), nullable=False),
)

ca_revocations = sa.Table(
    "seal_registry_ca_revocations",
    metadata,
    sa.Column("issuer", sa.String(16), primary_key=True),
    sa.Column("serial", sa.String(64), primary_key=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False, default=""),
)

ca_crls = sa.Table(
    "seal_registry_ca_crls",
    metadata,
    sa.Column("issuer", sa.String(16), primary_key=True),
    sa.Column("crl_number", sa.Integer, nullable=False),
    sa.Column("crl_der", sa.LargeBinary, nullable=False),
)
