"""The cluster database's engine: one per process, whatever number of stores share it.

Every shared store of a clustered node (``[cluster] database_url``) stands on this engine, so a
worker holds one connection pool to PostgreSQL, not one per store.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from anbao.settings import Settings
from audit.sql.engine import create_engine


@functools.cache
def _engine(url: str) -> sa.Engine:
    return create_engine(url)


def cluster_engine(settings: Settings) -> sa.Engine:
    """The engine of ``settings.cluster.database_url`` (cached per URL)."""
    return _engine(settings.cluster.database_url.reveal())
