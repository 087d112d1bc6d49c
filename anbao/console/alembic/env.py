"""Alembic environment of the console session store: run programmatically on a given connection.

``anbao.console.sessions_sql.MIGRATIONS.upgrade`` (:mod:`audit.sql.engine`) passes the connection in
``config.attributes["connection"]``; the version table is the store's own, so it shares the
cluster database with other packages' tables.
"""

from __future__ import annotations

from alembic import context

from anbao.console.sessions_sql import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run through anbao.console.sessions_sql (SqlSessionRows migrates on first use)"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
