"""The Elasticsearch audit store (production): reached with the official client.

Layout: one index per calendar month, ``{prefix}-yyyy.MM.01-000001``, chosen from the event's own
``@timestamp`` and created from a composable index template with explicit, strict mappings
(``deploy/elasticsearch/audit-events.template.json``, mirroring :data:`audit.model.FIELDS`).
Because an event's index is a function of the event, a redelivered event hits the same index and
the same ``_id`` (= ``event.id``): bulk ``create`` answers 409 and nothing is duplicated. A data
stream or an ILM rollover alias would break that (a retry after rollover lands in a new backing
index), which is why time-named indices are used even where those features exist.

Copies: every index has ``replicas`` replicas (default 1) as soon as the cluster has that many
other data nodes, fewer before (``auto_expand_replicas: 0-<replicas>``), so a single node stays
green and in a cluster a write is acknowledged only once it is on two nodes: losing one node
loses nothing acknowledged (tests/integration/cluster). :meth:`ElasticsearchAuditStore.install`
also applies it to the indices that already exist.

Retention (Cybersecurity Law art. 21(3): logs kept at least six months; MLPS L3-CES1-14): where
the distribution has ILM, a delete phase does it (``deploy/elasticsearch/audit-retention.ilm.json``);
the local integ-test-zip distribution has no ILM (``GET _ilm/policy`` has no handler), so there
Anbao deletes whole indices whose month ended more than ``retention_days`` ago
(:meth:`ElasticsearchAuditStore.enforce_retention`).
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import json
import json.encoder
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from elasticsearch import (
    ApiError,
    AuthenticationException,
    NotFoundError,
    TransportError,
)

from audit.errors import AuditConfigError, AuditStoreUnavailable
from audit.model import AuditEvent, format_timestamp
from audit.ports import Document, RawDocument, SearchPage, SearchRequest, WriteResult
from audit.search.elasticsearch import ElasticsearchSearch
from audit.search.model import store_page
from audit.search.query.elasticsearch import apply_search_mappings
from audit.stores.es_client import EsConnection, elasticsearch_client

#: Cybersecurity Law art. 21(3): network logs are kept for no less than six months.
MIN_RETENTION_DAYS: Final = 180
TEMPLATES: Final = Path(__file__).resolve().parents[2] / "deploy" / "elasticsearch"
_INDEX_RE: Final = re.compile(r"-(\d{4})\.(\d{2})\.01-\d{6}$")
_CONFLICT: Final = 409
_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})
_BULK_FILTER: Final = "errors,items.*.status,items.*.error.type,items.*.error.reason"


def check_retention(days: int, *, development: bool) -> None:
    """Refuse a retention under six months unless in development mode."""
    if days < MIN_RETENTION_DAYS and not development:
        raise AuditConfigError(
            f"Audit retention of {days} days is under the legal minimum of "
            f"{MIN_RETENTION_DAYS} days (Cybersecurity Law art. 21); allowed in development only."
        )


_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


def index_for(prefix: str, timestamp: str) -> str:
    """The monthly index of an event from its formatted ``@timestamp`` (``yyyy-MM-...``)."""
    return f"{prefix}-{timestamp[0:4]}.{timestamp[5:7]}.01-000001"


class ElasticsearchAuditStore:
    kind = "elasticsearch"

    def __init__(
        self,
        connection: EsConnection,
        *,
        prefix: str = "anbao-audit",
        replicas: int = 1,
        retention_days: int = 365,
        development: bool = False,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        check_retention(retention_days, development=development)
        self._clock = clock
        # Events are written by id (create): a retried write that had landed is a conflict.
        self.client = elasticsearch_client(connection, retry_on_timeout=True)
        self.prefix = prefix
        self.pattern = f"{prefix}-*"
        self.replicas = replicas
        self.retention_days = retention_days
        self._installed = False

    def ping(self) -> None:
        try:
            health = self.client.cluster.health(timeout="2s")
        except AuthenticationException as exc:
            raise AuditStoreUnavailable(
                "Elasticsearch refused the configured credentials."
            ) from exc
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        if health.get("status") == "red":
            raise AuditStoreUnavailable("Elasticsearch cluster status is red.")

    def close(self) -> None:
        self.client.close()

    # -- layout --------------------------------------------------------------------------------

    def ilm_available(self) -> bool:
        """True when this distribution has index lifecycle management (x-pack-ilm)."""
        try:
            self.client.perform_request(
                "GET", "/_ilm/policy", headers={"accept": "application/json"}
            )
        except ApiError:
            return False
        except TransportError as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        return True

    def install(self) -> None:
        """Create or update the index template (and the ILM policy where supported)."""
        template = _load(
            TEMPLATES / "audit-events.template.json",
            prefix=self.prefix,
            replicas=str(self.replicas),
        )
        template["template"]["settings"]["index"]["number_of_replicas"] = self.replicas
        apply_search_mappings(template)  # date_nanos @timestamp, analyzers of the query language
        try:
            if self.ilm_available():
                policy = _load(
                    TEMPLATES / "audit-retention.ilm.json",
                    min_age=f"{self.retention_days + 31}d",
                )
                self.client.perform_request(
                    "PUT",
                    f"/_ilm/policy/{self.prefix}-retention",
                    body=policy,
                    headers={"content-type": "application/json", "accept": "application/json"},
                )
                template["template"]["settings"]["index"].update(
                    {
                        "lifecycle.name": f"{self.prefix}-retention",
                        "lifecycle.parse_origination_date": True,
                    }
                )
            self.client.indices.put_index_template(name=f"{self.prefix}-events", **template)
            self.client.indices.put_settings(  # indices made before (a release with 0 replicas)
                index=self.pattern,
                settings={"index.auto_expand_replicas": f"0-{self.replicas}"},
                allow_no_indices=True,
                ignore_unavailable=True,
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("The audit index template cannot be installed.") from exc
        self._installed = True

    # -- writing -------------------------------------------------------------------------------

    def write_batch(self, events: Sequence[AuditEvent]) -> WriteResult:
        return self.write_documents(
            [RawDocument(e.id, format_timestamp(e.timestamp), e.canonical_bytes()) for e in events]
        )

    def write_documents(self, documents: Sequence[RawDocument]) -> WriteResult:
        """Bulk ``create`` with ``_id`` = event id: 201 created, 409 already there (harmless)."""
        if not documents:
            return WriteResult(0, 0)
        if not self._installed:
            self.install()
        parts: list[bytes] = []
        heads: dict[str, str] = {}  # the action line up to the id, per month
        for doc in documents:
            month = doc.timestamp[:7]
            head = heads.get(month)
            if head is None:
                index = index_for(self.prefix, doc.timestamp)
                head = heads[month] = f'{{"create":{{"_index":{_quote(index)},"_id":'
            action = f"{head}{_quote(doc.event_id)}}}}}\n"
            parts += [action.encode(), doc.document, b"\n"]
        try:
            response = self.client.bulk(
                operations=typing.cast(Any, b"".join(parts)), filter_path=_BULK_FILTER
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch did not accept the audit batch.") from exc
        return _bulk_result(documents, response.body)

    # -- reading -------------------------------------------------------------------------------

    def get(self, event_id: str) -> Document | None:
        try:
            response = self.client.search(
                index=self.pattern,
                query={"ids": {"values": [event_id]}},
                size=1,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        hits = response["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def scan(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[Document]:
        seq_range: dict[str, int] = {"gte": start}
        if stop is not None:
            seq_range["lt"] = stop
        query = {
            "bool": {
                "filter": [
                    {"term": {"anbao.stream": stream}},
                    {"range": {"anbao.sequence": seq_range}},
                ]
            }
        }
        after: list[Any] | None = None
        while True:
            hits = self._page(query, batch_size, after)
            for hit in hits:
                yield hit["_source"]
            if len(hits) < batch_size:
                return
            after = hits[-1]["sort"]

    def _page(self, query: Mapping[str, Any], size: int, after: list[Any] | None) -> list[Any]:
        extra: dict[str, Any] = {"search_after": after} if after is not None else {}
        try:
            response = self.client.search(
                index=self.pattern,
                query=query,
                sort=[{"anbao.sequence": "asc"}, {"event.id": "asc"}],
                size=size,
                track_total_hits=False,
                ignore_unavailable=True,
                allow_no_indices=True,
                **extra,
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        return list(response["hits"]["hits"])

    def streams(self) -> Mapping[str, int]:
        try:
            response = self.client.search(
                index=self.pattern,
                size=0,
                aggs={"s": {"terms": {"field": "anbao.stream", "size": 1000}}},
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        aggs = response.body.get("aggregations", {})
        return {b["key"]: b["doc_count"] for b in aggs.get("s", {}).get("buckets", [])}

    def count(self) -> int:
        try:
            response = self.client.count(
                index=self.pattern, ignore_unavailable=True, allow_no_indices=True
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        return int(response["count"])

    def refresh(self) -> None:
        try:
            self.client.indices.refresh(
                index=self.pattern, ignore_unavailable=True, allow_no_indices=True
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc

    def search(self, request: SearchRequest) -> SearchPage:
        """The port's search, answered by ``audit.search.elasticsearch`` on this store's indices
        (no org scope, no masking: people search through ``audit.search.service.AuditSearch``)."""
        backend = ElasticsearchSearch(self.client, self.pattern, clock=self._clock)
        return store_page(backend, request)

    # -- retention -----------------------------------------------------------------------------

    def indices(self) -> list[str]:
        try:
            response = self.client.indices.get(
                index=self.pattern, ignore_unavailable=True, allow_no_indices=True
            )
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        return sorted(response.body)

    def enforce_retention(self, now: dt.datetime) -> list[str]:
        """Delete whole monthly indices whose last day is older than the retention; names them.

        Runs only where Elasticsearch cannot do it itself (no ILM); never deletes an index that
        may still hold an event younger than ``retention_days``.
        """
        if self.ilm_available():
            return []
        cutoff = now - dt.timedelta(days=self.retention_days)
        expired = []
        for name in self.indices():
            match = _INDEX_RE.search(name)
            if not match or not name.startswith(self.prefix + "-"):
                continue
            year, month = int(match[1]), int(match[2])
            last_day = calendar.monthrange(year, month)[1]
            month_end = dt.datetime(year, month, last_day, tzinfo=dt.UTC) + dt.timedelta(days=1)
            if month_end <= cutoff:
                expired.append(name)
        for name in expired:
            try:
                self.client.indices.delete(index=name)
            except (ApiError, TransportError) as exc:
                raise AuditStoreUnavailable("An expired audit index cannot be deleted.") from exc
        return expired

    def delete_all(self) -> None:
        """Drop every index of this prefix and the template (tests and benchmarks only)."""
        for name in self.indices():
            self.client.indices.delete(index=name)
        with contextlib.suppress(NotFoundError):
            self.client.indices.delete_index_template(name=f"{self.prefix}-events")


def _load(path: Path, **values: str) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    data: dict[str, Any] = json.loads(text)
    data.pop("_comment", None)
    return data


def _bulk_result(documents: Sequence[RawDocument], body: Mapping[str, Any]) -> WriteResult:
    items = body.get("items", [])
    if not body.get("errors"):
        return WriteResult(created=len(documents), existing=0)
    created = existing = 0
    rejected: list[tuple[str, str]] = []
    for doc, item in zip(documents, items, strict=True):
        result = item.get("create", {})
        status = int(result.get("status", 500))
        if status in {200, 201}:
            created += 1
        elif status == _CONFLICT:
            existing += 1
        elif status in _RETRYABLE:
            raise AuditStoreUnavailable("Elasticsearch is overloaded; the batch will be retried.")
        else:
            error = result.get("error", {})
            rejected.append((doc.event_id, f"{error.get('type', status)}"))
    return WriteResult(created, existing, tuple(rejected))
