"""Alembic environment of the integrity log: run programmatically on a given connection.

``audit.integrity.migrations.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection
in ``config.attributes["connection"]``; the version table is the log's own, so it can share a
database with other packages.
"""

from __future__ import annotations

from alembic import context

from audit.integrity.tables import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run through audit.integrity.migrations (the log migrates when it opens)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
