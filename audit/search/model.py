"""Values and the backend port of audit search (issue 5 part 7): requests, pages, buckets.

A :class:`SearchSpec` is what an analyst asked, already parsed and already narrowed to what
the caller may see (the org subtree is part of the query, not a post-filter, so counts,
pages and aggregations never include events outside it). Both backends
(:mod:`audit.search.sqlite`, :mod:`audit.search.elasticsearch`) take the same specs and must
return the same documents in the same order; the integration suite checks exactly that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Final, Protocol

from audit.errors import AuditError
from audit.model import format_timestamp
from audit.ports import SearchPage, SearchRequest
from audit.search.query.parse import (
    And,
    Exists,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    Range,
    Term,
    Wildcard,
)

#: Counts stop here (Elasticsearch ``track_total_hits``); above it the total is a lower bound.
TOTAL_CAP: Final = 10_000
MAX_PAGE: Final = 1000
#: Fields a result list may be sorted on: always present, single-valued.
SORTABLE: Final = frozenset(
    {"@timestamp", "event.id", "event.action", "event.outcome", "event.kind", "anbao.sequence"}
)
DEFAULT_SORT: Final = (("@timestamp", "desc"),)
#: Fields the "top N" aggregations count.
TOP_FIELDS: Final = ("user.name", "source.ip", "event.action", "event.outcome")


class InvalidSearch(AuditError):
    """A search parameter (sort, size, cursor, interval, format) is not acceptable."""

    code = "audit_search_invalid"
    title = "Invalid audit search"


class SearchForbidden(AuditError):
    """The caller may not search the audit trail (roles ``security-analyst`` or ``auditor``)."""

    code = "audit_search_forbidden"
    title = "Audit search not allowed"


class SavedSearchNotFound(AuditError):
    code = "audit_saved_search_not_found"
    title = "Saved search not found"


@dataclasses.dataclass(frozen=True, slots=True)
class SearchSpec:
    """One search: query, time window ``[time_from, time_to)``, org scope, order, page."""

    query: Node = dataclasses.field(default_factory=MatchAll)
    time_from: dt.datetime | None = None
    time_to: dt.datetime | None = None
    org_scope: str = "/"
    sort: tuple[tuple[str, str], ...] = DEFAULT_SORT
    size: int = 100
    search_after: tuple[Any, ...] | None = None

    def order(self) -> tuple[tuple[str, str], ...]:
        """The sort with ``event.id`` appended as the unique tie-breaker (stable pagination)."""
        if any(field == "event.id" for field, _ in self.sort):
            return self.sort
        return (*self.sort, ("event.id", "asc"))

    def effective_query(self) -> Node:
        """The query AND the time window AND the org subtree: what the backend runs."""
        parts: list[Node] = [] if isinstance(self.query, MatchAll) else [self.query]
        if self.time_from is not None or self.time_to is not None:
            parts.append(
                Range(
                    "@timestamp",
                    None if self.time_from is None else format_timestamp(self.time_from),
                    None if self.time_to is None else format_timestamp(self.time_to),
                    include_lower=True,
                    include_upper=False,
                )
            )
        scope = subtree(self.org_scope)
        if scope is not None:
            parts.append(scope)
        if not parts:
            return MatchAll()
        return parts[0] if len(parts) == 1 else And(tuple(parts))


#: Paths that climb or stray (``..``, ``.``, empty segments) belong to no subtree below the root.
_NOT_CANONICAL = Or(
    tuple(Wildcard("organization.path", p) for p in ("*/../*", "*/..", "*/./*", "*/.", "*//*"))
)


def subtree(org_path: str) -> Node | None:
    """``organization.path`` equal to ``org_path`` or below it; ``None`` for the root.

    Segment-wise (``/a/b`` never matches ``/a/bc``); a path below with a dot or empty segment
    (``/a/b/../c``, stored from a hostile token or body) never matches.
    """
    path = org_path.rstrip("/")
    if not path:
        return None
    below = And((Wildcard("organization.path", _pattern_escape(path) + "/*"), Not(_NOT_CANONICAL)))
    return Or((Term("organization.path", path), below))


def _pattern_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    documents: tuple[Mapping[str, Any], ...]
    total: int
    total_exact: bool
    search_after: tuple[Any, ...] | None


@dataclasses.dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    count: int


@dataclasses.dataclass(frozen=True, slots=True)
class Aggregations:
    interval_seconds: int
    histogram: tuple[Bucket, ...]
    top: Mapping[str, tuple[Bucket, ...]]


class SearchBackend(Protocol):
    """Runs specs against one store; documents come back as stored (masked by the service)."""

    def search(self, spec: SearchSpec) -> Page: ...

    def aggregate(self, spec: SearchSpec, interval_seconds: int, top_size: int) -> Aggregations:
        """Histogram buckets (non-empty, ascending) and the top values of :data:`TOP_FIELDS`."""
        ...


def scroll(backend: SearchBackend, spec: SearchSpec) -> Iterator[Mapping[str, Any]]:
    """Every document of ``spec`` page by page (``search_after``): memory stays one page."""
    while True:
        page = backend.search(spec)
        yield from page.documents
        if page.search_after is None:
            return
        spec = dataclasses.replace(spec, search_after=page.search_after)


def bucket_key(epoch_seconds: int) -> str:
    return format_timestamp(dt.datetime.fromtimestamp(epoch_seconds, dt.UTC))


def store_page(backend: SearchBackend, request: SearchRequest) -> SearchPage:
    """Answer the store port's ``search`` (:class:`audit.ports.SearchRequest`) with a backend.

    For the adapters' ``AuditStore.search``: ``request.query`` is an AST from
    :func:`audit.search.query.parse.parse` (``None`` = everything); no org scope, no masking — callers that
    serve people go through :class:`audit.search.service.AuditSearch` instead.
    """
    query = request.query if request.query is not None else MatchAll()
    if not isinstance(query, MatchAll | Term | Phrase | Wildcard | Range | Exists | Not | And | Or):
        raise InvalidSearch(
            "SearchRequest.query must be a parsed query (audit.search.query.parse.parse)."
        )
    spec = SearchSpec(
        query=query,
        time_from=request.time_from,
        time_to=request.time_to,
        sort=request.sort,
        size=request.size,
        search_after=request.search_after,
    )
    page = backend.search(spec)
    return SearchPage(page.documents, page.total, page.search_after)
