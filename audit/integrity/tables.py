"""SQLAlchemy table definitions of the integrity log on PostgreSQL (one ``MetaData``, for Alembic).

The same three tables as the embedded log (:mod:`audit.integrity.sqlite`): leaf hashes by
``(stream, seq)``, signed heads by ``(stream, size)``, and each stream's gap-free size, so the
two adapters answer every question of :class:`audit.integrity.ports.IntegrityLog` alike. The
names carry an ``audit_integrity_`` prefix and the version table is the log's own, so the log
shares the cluster database with the other stores.
"""

from __future__ import annotations

import sqlalchemy as sa

VERSION_TABLE = "audit_integrity_alembic_version"

metadata = sa.MetaData()

leaves = sa.Table(
    "audit_integrity_leaves",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
)

heads = sa.Table(
    "audit_integrity_heads",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary, nullable=False),
    sa.Column("key_id", sa.String(128), nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
)

stream_sizes = sa.Table(
    "audit_integrity_stream_sizes",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
)
