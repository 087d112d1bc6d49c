"""Event ids: UUIDv7 text (RFC 9562 §5.7), time-ordered, from a millisecond and 74 other bits.

One layout for both kinds of id: random ones drawn for the recorder (:func:`new_event_id`),
and ones the spool derives from a grouped request record's place
(:func:`audit.recording.request_record.derived_event_id`).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

_MS_MASK = (1 << 48) - 1
_LOW = (1 << 62) - 1


def uuid7(ms: int, bits74: int) -> str:
    """``str(uuid.UUID(...))`` of a version-7 UUID, formatted at a third of its cost."""
    value = ((ms & _MS_MASK) << 80) | (0x7 << 76) | ((bits74 >> 62) & 0xFFF) << 64
    value |= (0b10 << 62) | (bits74 & _LOW)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Entropy:
    """Per-process PRNG seeded from ``os.urandom`` (re-seeded after fork): ids need uniqueness,
    not secrecy, and a syscall per event costs more than the rest of the id."""

    def __init__(self) -> None:
        self._pid = -1
        self._rng = random.Random()  # noqa: S311 - uniqueness only, seeded from os.urandom

    def bits(self, n: int) -> int:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._rng.seed(os.urandom(32))
        return self._rng.getrandbits(n)


_entropy = _Entropy()


def new_event_id(
    clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    random_bits: Callable[[int], int] = _entropy.bits,
) -> str:
    """A time-ordered UUID (RFC 9562 §5.7, version 7): sortable, unique without coordination."""
    return uuid7(clock_ms(), random_bits(74))
