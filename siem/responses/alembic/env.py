"""Alembic environment of the response action store: run programmatically on a given connection.

``siem.responses.sql.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection in
``config.attributes["connection"]``; the version table is the store's own, so it shares the
cluster database with other packages' tables.
"""

from __future__ import annotations

from audit.sql.engine import run_migrations
from siem.responses.sql import VERSION_TABLE, metadata

run_migrations(metadata, VERSION_TABLE, "siem.responses.sql (SqlActionStore migrates on first use)")
