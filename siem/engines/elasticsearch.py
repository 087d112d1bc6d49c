"""The scheduled engine's :class:`siem.ports.EventSource` on the audit indices in Elasticsearch.

The query text comes from pySigma's Lucene backend (rule content, linted; never user input) and
runs as a ``query_string`` inside a ``bool`` with a ``@timestamp`` range filter — the same shape
as the backend's own ``dsl_lucene`` output. Pages are read with ``search_after`` over the sort
``@timestamp, event.id`` (ascending), so deep windows need no scroll context.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from audit.model import format_timestamp
from siem.errors import EventSourceUnavailable
from siem.ports import Document


class ElasticsearchEventSource:
    """Reads audit documents matching a Lucene query from ``{prefix}-*``."""

    def __init__(self, client: Elasticsearch, *, index: str = "anbao-audit-*") -> None:
        self.client = client
        self.index = index
        self.queries = 0

    def search(
        self, query: str, start: dt.datetime, end: dt.datetime, *, page_size: int = 1000
    ) -> Iterator[Document]:
        body: dict[str, Any] = {
            "bool": {
                "must": [{"query_string": {"query": query, "analyze_wildcard": True}}],
                "filter": [
                    {
                        "range": {
                            "@timestamp": {
                                "gte": format_timestamp(start),
                                "lt": format_timestamp(end),
                            }
                        }
                    }
                ],
            }
        }
        after: list[Any] | None = None
        while True:
            try:
                page = self.client.search(
                    index=self.index,
                    query=body,
                    sort=[{"@timestamp": "asc"}, {"event.id": "asc"}],
                    size=page_size,
                    search_after=after,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                    track_total_hits=False,
                )
            except (ApiError, TransportError) as exc:
                raise EventSourceUnavailable(
                    "The audit store did not answer a rule query."
                ) from exc
            self.queries += 1
            hits = page["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < page_size:
                return
            after = hits[-1]["sort"]


__all__ = ["ElasticsearchEventSource"]
