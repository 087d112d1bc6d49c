"""Alembic environment of the compliance store: run programmatically on a given connection.

``policies.runs.migrations.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection in
``config.attributes["connection"]``;
the version table is this package's own, so it can share a database with other packages.
"""

from __future__ import annotations

from audit.sql.engine import run_migrations
from policies.runs.store import VERSION_TABLE, metadata

run_migrations(
    metadata, VERSION_TABLE, "policies.runs.migrations (SqlRunStore migrates at start-up)"
)
