"""Leases: which one process of many does a duty.

Two mechanisms, one per deployment mode. On one machine the election is an ``flock``
(:class:`FileLease`): the kernel releases it when its holder dies, however it dies. Across
machines (``[cluster] database_url``) it is a PostgreSQL session-level advisory lock on a
dedicated connection (:class:`audit.lease.postgres.PostgresLease`, imported by module: it loads
psycopg): the server releases it when the holder's session ends, and the holder confirms it on a
live connection before every run (fencing). Both have the same interface (:class:`Lease`), so a
job does not know which one elected it.
"""

from audit.lease.file import FileLease
from audit.lease.ports import Lease

__all__ = ["FileLease", "Lease"]
