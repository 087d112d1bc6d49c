"""Alembic environment of the seal registry: run programmatically on a given connection.

``audit.sql.engine.Migrations.upgrade`` (``anbao.wiring.seals.SEAL_MIGRATIONS``) passes the connection in
``config.attributes["connection"]``; the version table is the registry's own, so other
packages' migrations can share the database.
"""

from __future__ import annotations

from alembic import context

from crypto.seals.registry.tables import metadata

VERSION_TABLE = "seal_registry_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run through anbao.wiring.seals.SEAL_MIGRATIONS (anbao seal db upgrade)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
