"""Alembic environment of the integrity log: run programmatically on a given connection.

``audit.integrity.migrations.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection
in ``config.attributes["connection"]``; the version table is the log's own, so it can share a
database with other packages.
"""

from __future__ import annotations

from audit.integrity.tables import VERSION_TABLE, metadata
from audit.sql.engine import run_migrations

run_migrations(
    metadata, VERSION_TABLE, "audit.integrity.migrations (the log migrates when it opens)"
)
