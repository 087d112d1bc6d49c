"""Audit search on Elasticsearch: compiled DSL, ``search_after`` pages, exact single-pass aggs.

The DSL comes from :mod:`audit.search.query.elasticsearch` (filter context, no scoring, never
``query_string``); sort values of the last hit are the cursor, as Elasticsearch recommends for
deep pagination (``search_after`` instead of ``from``, which is capped at 10,000 hits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from audit.errors import AuditStoreUnavailable
from audit.search.model import (
    TOP_FIELDS,
    TOTAL_CAP,
    Aggregations,
    Bucket,
    Page,
    SearchSpec,
    bucket_key,
)
from audit.search.query.elasticsearch import compile_query


class ElasticsearchSearch:
    """:class:`audit.search.model.SearchBackend` over the indices matching ``index``."""

    def __init__(
        self, client: Elasticsearch, index: str, *, clock: Callable[[], dt.datetime]
    ) -> None:
        self.client = client
        self.index = index
        self._clock = clock

    def body(self, spec: SearchSpec) -> dict[str, Any]:
        """The request body (also what the benchmark sends to Elasticsearch directly)."""
        body: dict[str, Any] = {
            "query": compile_query(spec.effective_query(), self._clock()),
            "sort": [{field: {"order": direction}} for field, direction in spec.order()],
            "size": spec.size,
            "track_total_hits": TOTAL_CAP,
        }
        if spec.search_after is not None:
            body["search_after"] = list(spec.search_after)
        return body

    def _call(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            result = self.client.search(index=self.index, ignore_unavailable=True, **body)
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch cannot run the audit search.") from exc
        return dict(result.body)

    def search(self, spec: SearchSpec) -> Page:
        result = self._call(self.body(spec))
        hits = result["hits"]["hits"]
        total = result["hits"]["total"]
        cursor = tuple(hits[-1]["sort"]) if hits and len(hits) == spec.size else None
        return Page(
            tuple(hit["_source"] for hit in hits),
            int(total["value"]),
            total["relation"] == "eq",
            cursor,
        )

    def aggregate(self, spec: SearchSpec, interval_seconds: int, top_size: int) -> Aggregations:
        aggs: dict[str, Any] = {
            "histogram": {
                "date_histogram": {
                    "field": "@timestamp",
                    "fixed_interval": f"{interval_seconds}s",
                    "min_doc_count": 1,
                }
            }
        }
        for field in TOP_FIELDS:
            aggs[field] = {
                "terms": {
                    "field": field,
                    "size": top_size,
                    "shard_size": max(1000, top_size * 20),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
        body = {
            "query": compile_query(spec.effective_query(), self._clock()),
            "size": 0,
            "track_total_hits": False,
            "aggs": aggs,
        }
        result = self._call(body)["aggregations"]
        histogram = tuple(
            Bucket(bucket_key(int(b["key"]) // 1000), int(b["doc_count"]))
            for b in result["histogram"]["buckets"]
        )
        top = {
            field: tuple(
                Bucket(str(b["key"]), int(b["doc_count"])) for b in result[field]["buckets"]
            )
            for field in TOP_FIELDS
        }
        return Aggregations(interval_seconds, histogram, top)
