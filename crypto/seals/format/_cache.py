"""A small thread-safe LRU for verification results that depend only on public bytes.

Verification services see many signatures made with few seals and certificates: decoding a
certificate, verifying the maker's signature over a seal, building and signature-checking a
certificate path and checking a CRL's signature give the same answer every time for the same
bytes. Results are keyed by those exact bytes (never by object identity or names), so a
cache hit is the same computation's answer; anything time-dependent is re-checked by callers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from crypto.pki import validate

V = TypeVar("V")
_ALL: list[Lru[object]] = []


class Lru(Generic[V]):
    """Bounded mapping with least-recently-used eviction."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        _ALL.append(self)  # type: ignore[arg-type]

    def get_or(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value, or ``compute()`` stored (exceptions are not cached)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        self.put(key, value)
        return value

    def get(self, key: Hashable) -> V | None:
        """The cached value or None."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        """Store, evicting the oldest entry past the bound."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()


def clear_all() -> None:
    """Clear every cache, the PKI's verified links included (tests and cold benchmarks)."""
    for cache in _ALL:
        cache.clear()
    validate.clear_cache()
