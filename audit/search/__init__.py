"""Audit search: who may search which events, the query language, pages, aggregations, exports.

A room of its own because reading the trail has its own rules (analysts and auditors only,
bounded to their org subtree, personal data masked) and its own language (``query/``, compiled
for each store, never passed through as ``query_string``). The :class:`SearchBackend` port has
one adapter per store, imported by module with the store: ``audit.search.sqlite``,
``audit.search.elasticsearch``; ``resources`` (Falcon) and ``setup`` are the composition
root's.
"""

from audit.search.export import ExportFormat, export_chunks
from audit.search.model import (
    Aggregations,
    Bucket,
    InvalidSearch,
    Page,
    SavedSearchNotFound,
    SearchBackend,
    SearchForbidden,
    SearchSpec,
    store_page,
)
from audit.search.saved import SavedSearch, SavedSearches, SavedSearchService
from audit.search.service import AuditSearch, Caller, SearchParams

__all__ = [
    "Aggregations",
    "AuditSearch",
    "Bucket",
    "Caller",
    "ExportFormat",
    "InvalidSearch",
    "Page",
    "SavedSearch",
    "SavedSearchNotFound",
    "SavedSearchService",
    "SavedSearches",
    "SearchBackend",
    "SearchForbidden",
    "SearchParams",
    "SearchSpec",
    "export_chunks",
    "store_page",
]
