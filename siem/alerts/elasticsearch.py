"""Alerts in one Elasticsearch index with an explicit, strict mapping.

Every change is a conditional write: ``index`` with ``if_seq_no``/``if_primary_term`` (the
version token ``"<seq_no>:<primary_term>"``), so when two analysts triage the same alert at
once the second write is refused (409) instead of silently overwriting the first
(Elasticsearch reference, "Optimistic concurrency control"). Writes refresh the index, because
grouping must see an alert the moment it exists; alert volume is low by design (suppression).
The index has one replica as soon as the cluster has a second data node (``auto_expand_replicas``),
so an acknowledged alert change survives the loss of a node; a single node stays green.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, TransportError

from audit.stores.es_client import EsConnection, elasticsearch_client
from siem.alerts.codec import format_time, from_document, to_document
from siem.alerts.errors import AlertStoreUnavailable, AlertVersionConflict
from siem.alerts.model import Alert, AlertFilter, AlertPage

_KW: Final = {"type": "keyword"}
_DATE: Final = {"type": "date"}
_STORED: Final = {"type": "object", "enabled": False}
#: One replica where there is a node to hold it, none on a single node.
_COPIES: Final = {"index.auto_expand_replicas": "0-1"}

MAPPING: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "id": _KW,
        "group_key": _KW,
        "rule": {"properties": {"id": _KW, "title": {"type": "text"}, "tags": _KW}},
        "severity": _KW,
        "severity_rank": {"type": "byte"},
        "entity": {"properties": {"field": _KW, "value": _KW}},
        "entity_terms": _KW,
        "entity_values": _KW,
        "status": _KW,
        "count": {"type": "long"},
        "event_count": {"type": "long"},
        "event_ids": _KW,
        "first_event_time": _DATE,
        "last_event_time": _DATE,
        "created_at": _DATE,
        "updated_at": _DATE,
        "engines": _KW,
        "detection_keys": {"type": "keyword", "index": False, "doc_values": False},
        "tags": _KW,
        "assignee": _KW,
        "org_path": _KW,
        "close_reason": _KW,
        "triaged_at": _DATE,
        "notes": _STORED,
        "deliveries": _STORED,
    },
}


class ElasticsearchAlertStore:
    """Alerts in ``index`` (created with :data:`MAPPING` on first use)."""

    kind = "elasticsearch"

    def __init__(
        self,
        connection: EsConnection,
        *,
        index: str = "anbao-siem-alerts",
    ) -> None:
        self._connection = connection
        self._client: Elasticsearch | None = None
        self.index = index
        self._ready = False

    @property
    def client(self) -> Elasticsearch:
        """The client, (re)built on use: an ASGI lifespan may close a store that lives on."""
        if self._client is None:
            self._client = elasticsearch_client(self._connection)
        return self._client

    @contextmanager
    def _call(self) -> Iterator[None]:
        try:
            if not self._ready:
                self._install()
            yield
        except ConflictError as exc:
            raise AlertVersionConflict("the alert changed since it was read") from exc
        except (ApiError, TransportError) as exc:
            raise AlertStoreUnavailable("Elasticsearch refused the alert request.") from exc

    def _install(self) -> None:
        if self.client.indices.exists(index=self.index):
            # Additive mapping changes of newer versions (new fields) reach existing indices.
            self.client.indices.put_mapping(index=self.index, properties=MAPPING["properties"])
            self.client.indices.put_settings(index=self.index, settings=_COPIES)
        else:
            try:
                self.client.indices.create(
                    index=self.index,
                    mappings=MAPPING,
                    settings={"number_of_shards": 1, "number_of_replicas": 1, **_COPIES},
                )
            except ApiError as exc:  # created by another process meanwhile
                if exc.meta.status != 400:  # noqa: PLR2004 - resource_already_exists
                    raise
        self._ready = True

    def create(self, alert: Alert) -> Alert:
        with self._call():
            resp = self.client.create(
                index=self.index, id=alert.id, document=to_document(alert), refresh=True
            )
        return alert.evolve(version=f"{resp['_seq_no']}:{resp['_primary_term']}")

    def get(self, alert_id: str) -> Alert | None:
        with self._call():
            try:
                resp = self.client.get(index=self.index, id=alert_id)
            except NotFoundError:
                return None
        return from_document(resp["_source"], f"{resp['_seq_no']}:{resp['_primary_term']}")

    def replace(self, alert: Alert) -> Alert:
        seq_no, _, term = alert.version.partition(":")
        if not seq_no.isdigit() or not term.isdigit():
            raise AlertVersionConflict("the alert has no stored version")
        with self._call():
            resp = self.client.index(
                index=self.index,
                id=alert.id,
                document=to_document(alert),
                if_seq_no=int(seq_no),
                if_primary_term=int(term),
                refresh=True,
            )
        return alert.evolve(version=f"{resp['_seq_no']}:{resp['_primary_term']}")

    def latest_in_group(self, group_key: str, since: dt.datetime) -> Alert | None:
        query = {
            "bool": {
                "filter": [
                    {"term": {"group_key": group_key}},
                    {"range": {"last_event_time": {"gte": format_time(since)}}},
                ]
            }
        }
        hits = self._search(query, size=1, offset=0)[0]
        return hits[0] if hits else None

    def search(self, criteria: AlertFilter) -> AlertPage:
        alerts, total = self._search(_query(criteria), criteria.limit, criteria.offset)
        return AlertPage(tuple(alerts), total)

    def _search(self, query: dict[str, Any], size: int, offset: int) -> tuple[list[Alert], int]:
        with self._call():
            resp = self.client.search(
                index=self.index,
                query=query,
                size=size,
                from_=offset,
                sort=[{"last_event_time": "desc"}, {"id": "desc"}],
                seq_no_primary_term=True,
                track_total_hits=True,
            )
        hits = resp["hits"]
        alerts = [
            from_document(h["_source"], f"{h['_seq_no']}:{h['_primary_term']}")
            for h in hits["hits"]
        ]
        return alerts, int(hits["total"]["value"])

    def ping(self) -> None:
        with self._call():
            self.client.cluster.health(timeout="2s")

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def drop(self) -> None:
        """Delete the index (tests and ``anbao siem alerts`` maintenance only)."""
        with self._call():
            self.client.indices.delete(index=self.index, ignore_unavailable=True)
        self._ready = False


def _query(criteria: AlertFilter) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if criteria.statuses:
        filters.append({"terms": {"status": [s.value for s in criteria.statuses]}})
    if criteria.severities:
        filters.append({"terms": {"severity": [s.value for s in criteria.severities]}})
    if criteria.rule_id:
        filters.append({"term": {"rule.id": criteria.rule_id}})
    if criteria.assignee:
        filters.append({"term": {"assignee": criteria.assignee}})
    span: dict[str, str] = {}
    if criteria.since is not None:
        span["gte"] = format_time(criteria.since)
    if criteria.until is not None:
        span["lt"] = format_time(criteria.until)
    if span:
        filters.append({"range": {"last_event_time": span}})
    if criteria.entity:
        field = "entity_terms" if "=" in criteria.entity else "entity_values"
        filters.append({"term": {field: criteria.entity}})
    if criteria.tag:
        filters.append({"term": {"tags": criteria.tag}})
    scope = criteria.org_scope.rstrip("/")
    if not criteria.org_scope:
        filters.append({"bool": {"must_not": {"match_all": {}}}})  # no scope: nothing
    elif scope:  # alert paths are canonical (common_org), so a segment prefix is enough
        below = {"prefix": {"org_path": scope + "/"}}
        filters.append({"bool": {"should": [{"term": {"org_path": scope}}, below]}})
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}
