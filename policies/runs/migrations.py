"""The compliance store's Alembic migrations, run by the shared runner (:mod:`audit.sql.engine`).

The scripts live in the package (``alembic/``), so an installed Anbao migrates its own schema
without an ``alembic.ini``; a test compares the migrated schema with ``policies.runs.store.metadata``.
Runs and issued reports are evidence kept for years: their schema changes only by migration.
"""

from __future__ import annotations

from pathlib import Path

from audit.sql.engine import Migrations
from policies.errors import StoreUnavailable
from policies.runs.store import VERSION_TABLE

MIGRATIONS = Migrations(
    Path(__file__).parent / "alembic",
    VERSION_TABLE,
    name="compliance store",
    error=StoreUnavailable,
)
