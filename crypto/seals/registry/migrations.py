"""Where the registry's Alembic migrations are: scripts in the package, its own version table.

An installed Anbao migrates its own schema without an ``alembic.ini``. The registry opens no
database itself (crypto imports no sibling package): the composition root creates the engine and
runs these scripts with the shared runner (``audit.sql.engine.Migrations``, ``anbao.wiring.seals``)
before it hands the engine to :func:`crypto.seals.registry.build.build_registry`; a test compares
the migrated schema with ``tables.metadata``.
"""

from __future__ import annotations

from pathlib import Path

SCRIPTS = Path(__file__).parent / "alembic"
VERSION_TABLE = "seal_registry_alembic_version"
