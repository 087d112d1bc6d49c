"""Alembic environment of the saved-search store: run programmatically on a given connection.

``audit.search.saved_sql.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection in
``config.attributes["connection"]``; the version table is the store's own, so it shares the
cluster database with other packages' tables.
"""

from __future__ import annotations

from audit.search.saved_sql import VERSION_TABLE, metadata
from audit.sql.engine import run_migrations

run_migrations(
    metadata, VERSION_TABLE, "audit.search.saved_sql (SqlSavedSearches migrates on first use)"
)
