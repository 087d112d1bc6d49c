"""Builds the search service for the configured store (called by the composition root).

The backend follows the store: SQLite search reads the store's own file (adding its FTS table
once), Elasticsearch search reads the store's indices. Elasticsearch needs the mappings of
:func:`audit.search.query.elasticsearch.apply_search_mappings` in the store's index template; until the store's
``install`` applies them itself, :func:`ensure_search_mappings` adds them to the installed
template (indices created afterwards get them; an index created before keeps millisecond
``@timestamp`` and lacks the ``words`` subfields, see docs/audit-search.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from elasticsearch import ApiError, TransportError

from audit.errors import AuditStoreUnavailable
from audit.search.elasticsearch import ElasticsearchSearch
from audit.search.model import SearchBackend
from audit.search.query.elasticsearch import apply_search_mappings
from audit.search.resources import Guard, Router, add_routes
from audit.search.saved import SavedSearches, SavedSearchService, SqliteSavedSearches
from audit.search.service import AuditSearch
from audit.search.sqlite import SqliteSearch, ensure_schema
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.sqlite import SqliteAuditStore

log = logging.getLogger("anbao.audit.search")

#: Read-only bookkeeping keys Elasticsearch adds to a returned template.
_STAMPS = ("_date", "_date_millis")


def backend_for(store: object, clock: Callable[[], dt.datetime]) -> SearchBackend | None:
    """The search backend of a store, or ``None`` for a store search does not know."""
    if isinstance(store, ElasticsearchAuditStore):
        return ElasticsearchSearch(store.client, store.pattern, clock=clock)
    if isinstance(store, SqliteAuditStore) and str(store.path) != ":memory:":
        ensure_schema(store.path)
        return SqliteSearch(store.path, clock=clock)
    return None


def ensure_search_mappings(store: ElasticsearchAuditStore) -> None:
    """Install the store's template, then add the search mappings to it (idempotent)."""
    name = f"{store.prefix}-events"
    try:
        store.install()
        found = store.client.indices.get_index_template(name=name).body["index_templates"]
        template = {k: v for k, v in found[0]["index_template"].items() if not k.endswith(_STAMPS)}
        store.client.indices.put_index_template(name=name, body=apply_search_mappings(template))
    except (ApiError, TransportError, LookupError) as exc:
        raise AuditStoreUnavailable("The audit search mappings cannot be installed.") from exc


def build_search(
    store: object,
    *,
    clock: Callable[[], dt.datetime],
    saved_path: str | Path,
    new_id: Callable[[], str],
    backend: SearchBackend | None = None,
    saved_store: SavedSearches | None = None,
) -> tuple[AuditSearch, SavedSearchService] | None:
    """The search service and the saved-search service (on ``saved_store``, else the SQLite
    file at ``saved_path``), or ``None`` without a backend."""
    backend = backend or backend_for(store, clock)
    if backend is None:
        return None
    search = AuditSearch(backend, clock=clock)
    saved = SavedSearchService(
        saved_store or SqliteSavedSearches(saved_path, clock=clock),
        authorize=search.scope,
        check_query=search.check_query,
        new_id=new_id,
        clock=clock,
    )
    return search, saved


def add_search_routes(
    api: Router,
    store: object,
    *,
    guard: Guard,
    clock: Callable[[], dt.datetime],
    saved_path: str | Path,
    new_id: Callable[[], str],
    saved_store: SavedSearches | None = None,
) -> bool:
    """Serve ``/audit/events``, aggregations, export and saved searches; False without a backend.

    Saved searches are in ``saved_store`` when given (the cluster database), else in a SQLite
    file: beside an embedded store's events, or at ``saved_path``."""
    if isinstance(store, ElasticsearchAuditStore):
        try:
            ensure_search_mappings(store)
        except AuditStoreUnavailable:
            # Search still works on indices created with the mappings; writes are not blocked.
            log.warning("audit search mappings not installed: Elasticsearch unavailable")
    if isinstance(store, SqliteAuditStore) and str(store.path) != ":memory:":
        saved_path = Path(store.path).with_name("saved-searches.sqlite3")  # beside the events
    built = build_search(
        store, clock=clock, saved_path=saved_path, new_id=new_id, saved_store=saved_store
    )
    if built is None:
        return False
    add_routes(api, search=built[0], saved=built[1], guard=guard)
    return True
