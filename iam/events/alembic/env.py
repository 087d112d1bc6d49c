"""Alembic environment of the shared Keycloak event cursor: run on a given connection.

The composition root (``anbao.wiring.identity_events``) runs it through the shared runner
(``audit.sql.engine.Migrations``), which passes the connection in
``config.attributes["connection"]``; the version table is this store's own, so it shares the
cluster database with other stores.
"""

from __future__ import annotations

from alembic import context

from iam.events.postgres import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run through anbao.wiring.identity_events.CURSOR_MIGRATIONS")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
