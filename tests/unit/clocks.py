"""A clock tests move by hand, and a wait for another thread that is no verdict.

Why: a test that bounds how long something took, or that waits a fixed time for a thread to
act, passes or fails with the machine's load (a 2-CPU CI machine also runs Elasticsearch and
Keycloak). Code under test takes its clock and its pause as parameters; a test hands it a
:class:`SteppedClock` and counts reads and pauses. Where a test must wait for another thread,
:func:`eventually` waits for a condition with a timeout far beyond any pause: it ends a run
whose code is wrong, it does not judge speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Long enough that no load makes a correct run reach it.
LIVENESS_SECONDS = 60.0


class SteppedClock:
    """Monotonic seconds that move only by :meth:`advance` or :meth:`sleep`; counts its reads."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.reads = 0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.reads += 1
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A pause that takes no time: the clock moves on by ``seconds`` at once."""
        self.sleeps.append(seconds)
        self.advance(seconds)


def eventually(condition: Callable[[], bool], timeout: float = LIVENESS_SECONDS) -> bool:
    """Whether ``condition`` became true before ``timeout`` (a liveness bound, see above)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= end:
            return False
        time.sleep(0.005)
    return True
