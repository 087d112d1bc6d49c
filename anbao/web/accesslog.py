"""The access log: one JSON line per request, buffered and written in batches.

Formatting a record through :mod:`logging` and flushing stderr on every request would cost
more than the request it logs (figures in docs/architecture.md, "Performance"). A request therefore only appends its raw fields (a tuple of strings and integers) to a list;
lines are formatted directly into JSON text a batch at a time, and written with one ``write``
when the buffer fills or at the latest every ``flush_interval`` seconds. The price: on
``kill -9`` up to that interval of access lines can be lost. The access log is operational; the
audit trail, not this log, is the durable record of who did what.

Formatting is the log's main cost, so the batch formatter does per line only what differs per
line: the part that depends on method, route and status is built once per combination, the
date and time once per second, milliseconds from a table. Values a client controls (method,
path, user id, address) go through the C JSON escaper with ASCII output, so no value can break
out of its string or split a line (U+2028 and friends are escaped too).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import marshal
import os
import signal
import struct
import subprocess
import sys
import time
from typing import Any

# The end of the request (``time.perf_counter_ns()``, the clock the middleware times requests
# with: one clock read per request end), request id, method, route, path, status, duration
# (ns), client address, user id.
Entry = tuple[int, str | None, str, str, str, int, int, str | None, str | None]

_escape = json.encoder.encode_basestring_ascii
# ".000" ... ".999": milliseconds of the timestamp and the fraction of event.duration_ms.
_MILLIS = tuple(f".{n:03d}" for n in range(1000))
_FRAME = struct.Struct("<I")
# Lines share their middle part per (method, route, status); methods are client-controlled, so
# the cache is bounded (beyond it, the part is built per line).
_MAX_SHARED = 1024


def _shared(method: str, route: str, status: int) -> str:
    """The part of a line fixed by method, route and status (ECS field names)."""
    return (
        '+00:00","log.level":"info","log.logger":"anbao.access","message":'
        f"{_escape(f'{method} {route} {status}')},"
        f'"http.request.method":{_escape(method)},"http.response.status_code":{int(status)},'
        '"request_id":'
    )


def _second(second: int) -> str:
    """The start of a line up to the seconds of its ISO 8601 UTC timestamp."""
    stamp = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return '{"@timestamp":"' + stamp


class _Formatter:
    """Formats batches of entries; remembers the shared parts and the current second."""

    def __init__(self) -> None:
        self._shared: dict[tuple[str, str, int], str] = {}
        self._second = -1
        self._head = ""

    def lines(self, entries: list[Entry], epoch: int) -> str:
        """JSON lines; ``epoch`` turns performance-counter times into times since the epoch."""
        pieces: list[str] = []
        add = pieces.extend
        escape, millis, shared = _escape, _MILLIS, self._shared
        current, head = self._second, self._head
        for ended, request_id, method, route, path, status, elapsed_ns, client, user in entries:
            millis_since_epoch = (ended + epoch) // 1_000_000
            second = millis_since_epoch // 1000
            if second != current:
                current, head = second, _second(second)
            key = (method, route, status)
            middle = shared.get(key)
            if middle is None:
                middle = _shared(method, route, status)
                if len(shared) < _MAX_SHARED:
                    shared[key] = middle
            micros = (elapsed_ns + 500) // 1000
            add(
                (
                    head,
                    millis[millis_since_epoch % 1000],
                    middle,
                    "null" if request_id is None else escape(request_id),
                    ',"url.path":',
                    escape(path),
                    ',"event.duration_ms":',
                    str(micros // 1000),
                    millis[micros % 1000],
                    ',"client.address":',
                    "null" if client is None else escape(client),
                    ',"user.id":',
                    "null" if user is None else escape(user),
                    "}\n",
                )
            )
        self._second, self._head = current, head
        return "".join(pieces)


def _epoch() -> int:
    """What to add to ``time.perf_counter_ns()`` to get nanoseconds since the epoch."""
    return time.time_ns() - time.perf_counter_ns()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


class AccessLog:
    """Buffers request records; formats and writes them a batch at a time.

    With ``writer_process`` the batches go, as compact binary (:mod:`marshal`) over a pipe, to
    a child process (``python -m anbao.web.accesslog``) that formats and writes the lines, so the
    serving process spends on its access log only the append per request and the hand-over per
    batch. The child is started with the ASGI lifespan and ends when the pipe closes at
    shutdown (or when the server dies); if it cannot be started or goes away, lines are
    formatted in the serving process again, nothing is lost but the batch in flight.
    """

    def __init__(
        self,
        fd: int = 2,
        *,
        max_lines: int = 256,
        flush_interval: float = 0.25,
        writer_process: bool = False,
    ) -> None:
        self._fd = fd
        self._max_lines = max_lines
        self._interval = flush_interval
        self._use_writer = writer_process
        self._writer: subprocess.Popen[bytes] | None = None
        self._entries: list[Entry] = []
        self._formatter = _Formatter()
        self._task: asyncio.Task[None] | None = None

    def record(  # noqa: PLR0917 - one positional call per request, the hot path
        self,
        ended: int,
        request_id: str | None,
        method: str,
        route: str,
        path: str,
        status: int,
        elapsed_ns: int,
        client: str | None,
        user_id: str | None,
    ) -> None:
        """Keep one request's raw fields (the per-request path: no formatting here).

        ``ended`` is ``time.perf_counter_ns()`` when the request ended.
        """
        entries = self._entries
        entries.append(
            (ended, request_id, method, route, path, status, elapsed_ns, client, user_id)
        )
        if len(entries) >= self._max_lines:
            self.flush()

    def write(
        self,
        *,
        request_id: str,
        method: str,
        route: str,
        path: str,
        status: int,
        duration_ms: float,
        client: str | None,
        user_id: str | None,
    ) -> None:
        """:meth:`record` with named fields and the duration in milliseconds."""
        self.record(
            time.perf_counter_ns(),
            request_id,
            method,
            route,
            path,
            status,
            round(duration_ms * 1e6),
            client,
            user_id,
        )

    def flush(self) -> None:
        # Called from the event loop thread only (requests, the periodic task, shutdown).
        entries, self._entries = self._entries, []
        if not entries:
            return
        writer = self._writer
        if writer is not None and writer.stdin is not None:
            payload = marshal.dumps((_epoch(), entries))
            try:
                _write_all(writer.stdin.fileno(), _FRAME.pack(len(payload)) + payload)
            except OSError:  # the writer is gone: format here from now on
                self._stop_writer(wait=0)
            else:
                return
        with contextlib.suppress(OSError):
            _write_all(self._fd, self._formatter.lines(entries, _epoch()).encode())

    async def process_startup(self, scope: object, event: object) -> None:
        del scope, event
        if self._use_writer:
            self._start_writer()
        self._task = asyncio.create_task(self._flush_periodically())

    async def process_shutdown(self, scope: object, event: object) -> None:
        del scope, event
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush()
        if self._writer is not None:
            await asyncio.to_thread(self._stop_writer, wait=5.0)

    def _start_writer(self) -> None:
        try:
            self._writer = subprocess.Popen(
                [sys.executable, "-m", "anbao.web.accesslog"],
                stdin=subprocess.PIPE,
                stdout=self._fd,
                close_fds=True,
            )
        except OSError:
            self._writer = None

    def _stop_writer(self, wait: float) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        with contextlib.suppress(OSError):
            if writer.stdin is not None:
                writer.stdin.close()  # end of input: the writer writes what it has and exits
        try:
            writer.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            writer.kill()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.flush()


def _read_exactly(stream: Any, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def writer_main(source: Any = None, fd: int = 1) -> None:
    """The writer process: batches from ``source`` (stdin) as JSON lines to ``fd`` until EOF.

    Interrupts are ignored: the child ends when its parent closes the pipe (shutdown) or dies,
    so a Ctrl-C to the process group does not lose the lines still in the pipe.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stream = source if source is not None else sys.stdin.buffer
    formatter = _Formatter()
    while (header := _read_exactly(stream, _FRAME.size)) is not None:
        body = _read_exactly(stream, _FRAME.unpack(header)[0])
        if body is None:
            break
        epoch, entries = marshal.loads(body)  # noqa: S302 - our parent's pipe
        with contextlib.suppress(OSError):
            _write_all(fd, formatter.lines(entries, epoch).encode())


if __name__ == "__main__":
    writer_main()
