"""Whether the processes that serve requests are busy: the shipper's cue to hold off.

Why it exists: when the serving processes keep the machine's cores busy, any other work slows
them, even at the lowest priority: ``nice 19`` and ``SCHED_IDLE`` take only idle time, but the
cores share caches, memory bandwidth and the hypervisor's time (bench/audit.py: a niced shipper
working beside a loaded server cut its request rate by a third; a niced busy loop alone, by a
tenth to a fifth). The shipper's work can wait: what it would move is durable already, in the
request journal or the spool. So :class:`audit.recording.shipper.Shipper` holds off while a serving
process is busy, for a bounded time and only while the spool has room.

Busy: a process used more than ``threshold`` of a CPU over the last ``window`` seconds or more,
read from ``/proc/<pid>/stat`` (Linux; elsewhere nothing is ever busy). The processes are the
writers of the request journal; in the shipper's own process its own thread's CPU time is left
out. The judgement is on recent time only: when the previous look is older than one and a half
windows (the shipper was idle, or shipping), a look over it would mostly see the time before a
load that has just begun, and the shipper would start a batch of thousands of events beside it
(bench/audit.py: about half the rounds, some 0.1-0.4 s of a CPU each); so ``busy()`` looks again
after a window.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process, or ``None`` if it cannot be read (gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


class ServingLoad:
    """``busy()`` is called from one thread (the shipper's); its CPU time is not the load."""

    def __init__(
        self,
        pids: Callable[[], Iterable[int]],
        *,
        threshold: float = 0.5,
        window: float = 0.1,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        process_cpu: Callable[[int], float | None] = cpu_seconds,
        thread_cpu: Callable[[], float] = time.thread_time,
    ) -> None:
        """The clocks and CPU readings are parameters so that tests judge given readings, not
        the real CPU of a machine whose load they do not control."""
        self._pids = pids
        self._process_cpu = process_cpu
        self._thread_cpu = thread_cpu
        self._threshold = threshold
        self._window = window
        self._monotonic = monotonic
        self._sleep = sleep
        self._looked_at = float("-inf")
        self._own = os.getpid()
        #: pid -> (when, its CPU seconds then, this thread's CPU seconds then)
        self._last: dict[int, tuple[float, float, float]] = {}

    def busy(self) -> bool:
        """Whether a serving process is busy now; may wait a window (see the module doc)."""
        if self._monotonic() - self._looked_at > 1.5 * self._window:
            self._look()
            self._sleep(self._window)
        return self._look()

    def _look(self) -> bool:
        now, mine = self._monotonic(), self._thread_cpu()
        self._looked_at = now
        seen: dict[int, tuple[float, float, float]] = {}
        busy = False
        for pid in set(self._pids()):
            used = self._process_cpu(pid)
            if used is None:
                continue
            seen[pid] = (now, used, mine)
            last = self._last.get(pid)
            if last is None or now <= last[0]:
                continue
            spent = used - last[1]
            if pid == self._own:
                spent -= mine - last[2]
            busy = busy or spent / (now - last[0]) > self._threshold
        self._last = seen
        return busy
