"""Group commit of request-journal frames for the ``batch`` fsync policy.

Under ``batch`` a request is answered only after its record is on disk. One ``msync`` per
request would cost a disk flush each, so the frames submitted in one event-loop iteration (or
within ``delay``) are copied into the journal together, on the loop, and synced once on a worker
thread (the loop keeps serving meanwhile). One group is in flight per loop: frames arriving
during its sync form the next group, written when it is done, so groups grow with the load.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable

from audit.errors import AuditError
from audit.recording import journal
from audit.recording.journal import JournalWriter

_Group = list[tuple[bytes, "asyncio.Future[None]"]]


class JournalGroupCommit:
    """``fallback(stream, payload, future)`` records a frame another way, settling ``future``,
    when the journal cannot be written at all (no file can be created); a failed sync fails the
    group's requests."""

    def __init__(
        self,
        writer: JournalWriter,
        pool: concurrent.futures.Executor,
        delay: float = 0.0,
        *,
        fallback: Callable[[str, bytes, asyncio.Future[None]], None],
    ) -> None:
        self._writer = writer
        self._pool = pool
        self._delay = delay
        self._fallback = fallback
        self._waiting: dict[asyncio.AbstractEventLoop, _Group] = {}
        self._syncing: set[asyncio.AbstractEventLoop] = set()

    def submit(self, frame: bytes) -> asyncio.Future[None]:
        """Resolves once ``frame`` is on disk; fails with the journal's error if it cannot be."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        group = self._waiting.get(loop)
        if group is None:
            group = self._waiting[loop] = []
            if loop not in self._syncing:
                loop.call_later(self._delay, self._write, loop)
        group.append((frame, future))
        return future

    def _write(self, loop: asyncio.AbstractEventLoop) -> None:
        group = self._waiting.pop(loop, [])
        if not group:
            return
        data = b"".join(frame for frame, _ in group)
        try:
            self._writer.write(data)
        except AuditError:
            records = journal.parse(data).records
            for (stream, payload), (_, future) in zip(records, group, strict=True):
                self._fallback(stream, payload, future)
            return
        self._syncing.add(loop)
        synced = loop.run_in_executor(self._pool, self._writer.sync)
        synced.add_done_callback(functools.partial(self._synced, loop, group))

    def _synced(
        self, loop: asyncio.AbstractEventLoop, group: _Group, synced: asyncio.Future[None]
    ) -> None:
        self._syncing.discard(loop)
        _settle(group, synced.exception())
        if self._waiting.get(loop):
            self._write(loop)


def _settle(group: _Group, exc: BaseException | None) -> None:
    for _, future in group:
        if future.done():
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)
