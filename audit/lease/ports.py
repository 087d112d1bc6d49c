"""The interface of a lease, whichever mechanism holds it (a file lock or a database lock)."""

from __future__ import annotations

from typing import Protocol


class Lease(Protocol):
    """Held from :meth:`try_acquire` returning True until :meth:`release`, the process's end
    or, for a lease held through a connection, the connection's loss."""

    @property
    def held(self) -> bool:
        """Whether this process believes it holds the lease (no round trip)."""
        ...

    def try_acquire(self) -> bool:
        """Take the lease unless another process holds it; never waits. True if held now."""
        ...

    def confirm(self) -> bool:
        """Whether the lease is still held, checked now (the fencing check before each run).
        False also drops the lease, so the next :meth:`try_acquire` starts as a standby."""
        ...

    def release(self) -> None: ...
