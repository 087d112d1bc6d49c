"""The PostgreSQL integrity log's Alembic migrations, run by the shared runner (:mod:`audit.sql.engine`).

Scripts in the package (``alembic/``), so an installed Anbao migrates its own schema without an
``alembic.ini``; a test compares the migrated schema with :data:`audit.integrity.tables.metadata`.
Leaves and heads are evidence kept for years: their schema changes only by migration.
"""

from __future__ import annotations

from pathlib import Path

from audit.integrity.model import IntegrityError
from audit.integrity.tables import VERSION_TABLE
from audit.sql.engine import Migrations

MIGRATIONS = Migrations(
    Path(__file__).parent / "alembic",
    VERSION_TABLE,
    name="integrity log",
    error=IntegrityError,
)
