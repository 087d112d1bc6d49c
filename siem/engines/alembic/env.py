"""Alembic environment of the scheduled-detection checkpoint store: run programmatically on a given connection.

``siem.engines.checkpoints_sql.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection in
``config.attributes["connection"]``; the version table is the store's own, so it shares the
cluster database with other packages' tables.
"""

from __future__ import annotations

from audit.sql.engine import run_migrations
from siem.engines.checkpoints_sql import VERSION_TABLE, metadata

run_migrations(
    metadata, VERSION_TABLE, "siem.engines.checkpoints_sql (SqlCheckpoints migrates on first use)"
)
