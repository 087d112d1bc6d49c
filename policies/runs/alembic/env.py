"""Alembic environment of the compliance store: run programmatically on a given connection.

``policies.runs.migrations.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection in
``config.attributes["connection"]``;
the version table is this package's own, so it can share a database with other packages.
"""

from __future__ import annotations

from alembic import context

from policies.runs.store import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run through policies.runs.migrations (SqlRunStore migrates at start-up)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
