"""Alembic environment of the scheduled-detection checkpoint store: run programmatically on a given connection.

``siem.engines.checkpoints_sql.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection in
``config.attributes["connection"]``; the version table is the store's own, so it shares the
cluster database with other packages' tables.
"""

from __future__ import annotations

from alembic import context

from siem.engines.checkpoints_sql import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run through siem.engines.checkpoints_sql (SqlCheckpoints migrates on first use)"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
