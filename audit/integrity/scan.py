"""How ``verify`` reads the event store: parsed documents, or raw bytes when the store can.

A store may offer ``scan_raw`` (see :class:`RawScanner`): the stored canonical bytes, unparsed.
Then a matching event costs one SM3 over the bytes it already has, and only mismatches are
parsed; otherwise each document is parsed by the store and re-serialized here. Both give the
same findings: the leaf is defined over canonical JSON, and stored bytes that hash to the
logged leaf *are* that canonical JSON.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeAlias, runtime_checkable

from audit.ports import AuditStore, Document

#: ``(sequence, raw bytes or None, parsed document or None)``: one of the two is set.
Item: TypeAlias = tuple[int | None, bytes | None, Document | None]

_PREFETCH_CHUNK = 500
_PREFETCH_DEPTH = 8


@runtime_checkable
class RawScanner(Protocol):
    """Optional store capability: ``(anbao.sequence, stored bytes)`` in sequence order."""

    def scan_raw(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[tuple[int, bytes]]: ...


def document_sequence(document: Document) -> int | None:
    """``anbao.sequence`` of a stored document, or ``None`` when missing or malformed."""
    anbao = document.get("anbao")
    value = anbao.get("sequence") if isinstance(anbao, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_raw(raw: bytes) -> Document:
    """A raw stored document that did not match, parsed for classification."""
    try:
        value: Any = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def scan_items(
    store: AuditStore,
    stream: str,
    start: int,
    stop: int | None,
    batch_size: int,
    *,
    background: bool = False,
) -> Iterator[Item]:
    """The store's documents of ``stream`` in sequence order, as :data:`Item` tuples."""
    items: Iterator[Item]
    if isinstance(store, RawScanner):
        rows = store.scan_raw(stream, start, stop, batch_size=batch_size)
        items = ((seq, raw, None) for seq, raw in rows)
    else:
        docs = store.scan(stream, start, stop, batch_size=batch_size)
        items = ((document_sequence(d), None, d) for d in docs)
    return prefetch(items) if background else items


def prefetch(items: Iterator[Item]) -> Iterator[Item]:
    """Read the store in a background thread, a few hundred items ahead.

    Worth it when the store's round trips dominate and a core is free (the round trips then
    overlap with hashing); on a saturated machine it costs more than it saves, so it is off
    by default. The queue is bounded; errors are re-raised in the consumer.
    """
    chunks: queue.Queue[list[Item] | BaseException | None] = queue.Queue(_PREFETCH_DEPTH)
    stop = threading.Event()

    def produce() -> None:
        chunk: list[Item] = []
        try:
            for item in items:
                chunk.append(item)
                if len(chunk) == _PREFETCH_CHUNK:
                    chunks.put(chunk)
                    chunk = []
                    if stop.is_set():
                        return
            chunks.put(chunk)
            chunks.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
            chunks.put(exc)

    thread = threading.Thread(target=produce, name="audit-verify-prefetch", daemon=True)
    thread.start()
    try:
        while (got := chunks.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            yield from got
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.1)


class Lookahead:
    """The store scan with one item of lookahead, consumed window by window."""

    def __init__(self, items: Iterator[Item]) -> None:
        self._it = items
        self._next: Item | None = next(self._it, None)

    def below(self, stop: int | None) -> Iterator[Item]:
        """Yield items with a sequence below ``stop``, one at a time.

        Streaming matters: holding a window of parsed documents alive makes Python's cyclic
        garbage collector traverse them over and over (it runs on allocation counts).
        """
        while self._next is not None:
            seq = self._next[0]
            if stop is not None and seq is not None and seq >= stop:
                return
            item, self._next = self._next, None
            yield item
            self._next = next(self._it, None)
