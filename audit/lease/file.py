"""An exclusive, non-blocking ``flock`` on one file: the one-process-of-many election.

Several worker processes share one spool; one of them ships it (:class:`audit.recording.shipper.Shipper`)
and one pulls Keycloak's events into it (``anbao.wiring.identity_events``). Each duty is a lease on
its own lock file. The kernel releases an ``flock`` when its holder dies, however it dies, so a
killed holder's duty passes to the next process that asks.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import IO


class FileLease:
    """Held from :meth:`try_acquire` returning True until :meth:`release` or process end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def try_acquire(self) -> bool:
        """Take the lease unless another open file (any process) holds it; never waits."""
        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def confirm(self) -> bool:
        """An ``flock`` cannot be lost while its file stays open: held is confirmed."""
        return self._handle is not None

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
