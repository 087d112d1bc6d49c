"""``scan_raw`` for the Elasticsearch store: the stored ``_source`` bytes, exactly as indexed.

Elasticsearch returns ``_source`` verbatim (byte for byte what was indexed, when no source
filtering applies), and the pipeline indexes the canonical JSON the leaf hash was computed
from. Reading those bytes lets ``verify`` hash what is stored instead of re-serializing a
parsed copy, which is most of its cost. This reader uses its own client whose JSON
"deserializer" keeps the response bytes; it cuts each hit's ``_source`` out with the C JSON
scanner (which also finds where it ends). Whenever the response does not have the expected
shape it falls back to parsing it normally and yields canonical JSON instead: a slower path
with the same verdict (the leaf is defined over canonical JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from audit.errors import AuditStoreUnavailable
from audit.integrity.scan import document_sequence
from audit.model import canonical_json
from audit.ports import AuditStore

_HEAD = '{"hits":{"hits":['
_SOURCE = '{"_source":'
_SORT = ',"sort":'
_DECODER = json.JSONDecoder()


def split_hits(body: bytes) -> list[tuple[int, bytes]]:
    """``(sequence, raw _source)`` of each hit of a ``filter_path``-ed search response."""
    text = body.decode("utf-8")
    if text in ("{}", '{"hits":{"hits":[]}}'):
        return []
    if not text.startswith(_HEAD):
        raise ValueError("unexpected response")
    rows: list[tuple[int, bytes]] = []
    i = len(_HEAD)
    while True:
        if not text.startswith(_SOURCE, i):
            raise ValueError("unexpected hit")
        start = i + len(_SOURCE)
        _, end = _DECODER.raw_decode(text, start)
        if not text.startswith(_SORT, end):
            raise ValueError("unexpected hit")
        sort, i = _DECODER.raw_decode(text, end + len(_SORT))
        rows.append((int(sort[0]), text[start:end].encode("utf-8")))
        if text.startswith("},", i):
            i += 2
        elif text.startswith("}]", i):
            return rows
        else:
            raise ValueError("unexpected hit")


def _canonical_rows(body: bytes) -> list[tuple[int, bytes]]:
    """The slow path: parse normally, re-serialize canonically."""
    hits = json.loads(body).get("hits", {}).get("hits", [])
    rows = []
    for hit in hits:
        source = hit.get("_source", {})
        seq = document_sequence(source) if isinstance(source, Mapping) else None
        rows.append((seq if seq is not None else int(hit["sort"][0]), canonical_json(source)))
    return rows


class RawReader:
    """Reads ``anbao.sequence``-ordered raw documents of one store's indices."""

    def __init__(self, client: Elasticsearch, pattern: str) -> None:
        self._client = client
        self._pattern = pattern

    def scan_raw(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[tuple[int, bytes]]:
        """Window by window over ``anbao.sequence`` (``[lo, lo + batch_size)``).

        A sorted ``search_after`` over the whole range makes Elasticsearch consider every
        remaining document for each page; a narrow range per request is answered from the
        points index, so the cost per page stays flat however long the trail is. The indices are
        refreshed first: every logged leaf was acknowledged by Elasticsearch, but only a refresh
        makes it searchable, and without one a verify just after a write (another node's, too)
        would report the newest events as deleted.
        """
        self._refresh()
        end = stop if stop is not None else self._max_sequence(stream) + 1
        for lo in range(start, end, batch_size):
            yield from self._window(stream, lo, min(lo + batch_size, end), batch_size)

    def _window(self, stream: str, lo: int, hi: int, size: int) -> Iterator[tuple[int, bytes]]:
        query = {
            "bool": {
                "filter": [
                    {"term": {"anbao.stream": stream}},
                    {"range": {"anbao.sequence": {"gte": lo, "lt": hi}}},
                ]
            }
        }
        after: list[Any] | None = None
        while True:
            body = self._page(query, size, after)
            try:
                rows = split_hits(body)
            except (ValueError, IndexError, TypeError):
                rows = _canonical_rows(body)
            yield from rows
            if len(rows) < size:
                return
            after = _last_sort(body)  # more documents than sequence numbers: insertions

    def _refresh(self) -> None:
        try:
            self._client.indices.refresh(
                index=self._pattern, ignore_unavailable=True, allow_no_indices=True
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc

    def _max_sequence(self, stream: str) -> int:
        query = {"term": {"anbao.stream": stream}}
        try:
            response = self._client.search(
                index=self._pattern,
                query=query,
                size=0,
                aggs={"max": {"max": {"field": "anbao.sequence"}}},
                ignore_unavailable=True,
                allow_no_indices=True,
                filter_path=["aggregations.max.value"],
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        value = json.loads(bytes(response.body) or b"{}")
        found = value.get("aggregations", {}).get("max", {}).get("value")
        return int(found) if isinstance(found, int | float) else -1

    def _page(self, query: Mapping[str, Any], size: int, after: list[Any] | None) -> bytes:
        extra: dict[str, Any] = {"search_after": after} if after is not None else {}
        try:
            response = self._client.search(
                index=self._pattern,
                query=query,
                sort=[{"anbao.sequence": "asc"}, {"event.id": "asc"}],
                size=size,
                track_total_hits=False,
                ignore_unavailable=True,
                allow_no_indices=True,
                filter_path=["hits.hits._source", "hits.hits.sort"],
                **extra,
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        return bytes(response.body)


def _last_sort(body: bytes) -> list[Any]:
    """The ``sort`` of the last hit, for ``search_after`` (it follows the last ``"sort":``)."""
    text = body.decode("utf-8")
    at = text.rindex(_SORT)
    sort, _ = _DECODER.raw_decode(text, at + len(_SORT))
    return list(sort)


class WithRawScan:
    """A store plus a raw reader: everything delegates to the store, ``scan_raw`` to the reader."""

    def __init__(self, store: AuditStore, reader: RawReader) -> None:
        self._store = store
        self._reader = reader
        self.kind = store.kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def scan_raw(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[tuple[int, bytes]]:
        return self._reader.scan_raw(stream, start, stop, batch_size=batch_size)
