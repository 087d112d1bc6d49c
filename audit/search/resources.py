"""Falcon resources of audit search: events, aggregations, streaming export, saved searches.

Thin by design: parameters are read here, every decision (roles, org scope, parsing, limits)
is made in :class:`audit.search.service.AuditSearch`. Authorization is the platform's one
decision (``iam.tokens.falcon.guard``), injected by the composition root (``audit`` does not
import ``iam``); it returns the caller with ``id``, ``roles`` and ``scope_path``
(:class:`audit.sensitive.service.Actor`). Bodies arrive checked against :data:`SAVED_SEARCH`,
the schema the OpenAPI document publishes (``anbao.web.bodies``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ClassVar, Protocol

import falcon
import falcon.asgi

from audit.search.export import ExportFormat, export_chunks
from audit.search.model import MAX_PAGE, Aggregations, InvalidSearch
from audit.search.saved import MAX_NAME, MAX_TEXT, SavedSearchService
from audit.search.service import (
    INTERVAL,
    MAX_TOP,
    SEARCH_ROLES,
    AuditSearch,
    Caller,
    SearchParams,
    encode_cursor,
)

_JSON = {"application/json": {"schema": {"type": "object"}}}
_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
_SEARCH_PARAMS = ("q", "from", "to", "sort", "size", "search_after")


class Router(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


class Principal(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...

    @property
    def scope_path(self) -> str: ...


#: ``await guard(req, any_of_roles, acr)``: the caller with its live org scope (``scope_path``,
#: from the caller's binding, never the token's ``org_path``), or the identity 401/403.
Guard = Callable[[falcon.asgi.Request, frozenset[str], str | None], Awaitable[Principal]]


_TEXT = {"type": "string"}
#: The query parameters as the handlers read them (their finer rules — the query language, time
#: expressions, sort fields, the cursor — are the parsers', answered 400 with the position).
QUERY: dict[str, dict[str, Any]] = {
    "q": _TEXT,
    "from": _TEXT,
    "to": _TEXT,
    "sort": _TEXT,
    "search_after": _TEXT,
    "size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
    "top": {"type": "integer", "minimum": 1, "maximum": MAX_TOP},
    "interval": {"type": "string", "pattern": f"^(auto|{INTERVAL.pattern})$"},
    "format": {"type": "string", "enum": [f.value for f in ExportFormat]},
}
#: A saved search as :func:`audit.search.saved.saved_from_json` reads it.
SAVED_SEARCH: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": "\\S"},
        "q": {"type": "string", "maxLength": MAX_TEXT},
        # null, as absent, leaves the time or the sort to the search's defaults.
        **{
            key: {"type": ["string", "null"], "maxLength": MAX_TEXT}
            for key in ("from", "to", "sort")
        },
    },
}


def _op(
    summary: str,
    *errors: str,
    params: tuple[str, ...] = (),
    body: dict[str, Any] | None = None,
    content: dict[str, Any] | None = None,
    ok: str = "200",
) -> dict[str, Any]:
    """An operation: its query ``params`` (schemas from :data:`QUERY`), its JSON ``body``, and
    its success status ``ok`` with the ``content`` of that answer (JSON unless said; none for
    204)."""
    success = {"description": "OK"} | ({} if ok == "204" else {"content": content or _JSON})
    responses: dict[str, Any] = {ok: success}
    for status in ("400", "401", "403", *errors):
        responses[status] = {"description": "Problem", "content": _PROBLEM}
    op: dict[str, Any] = {"summary": summary, "tags": ["audit-search"], "responses": responses}
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "required": False, "schema": QUERY[p]} for p in params
        ]
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
            # A body that breaks the schema is refused at the edge with this package's problem.
            "x-problem-code": InvalidSearch.code,
        }
    return op


async def _caller(guard: Guard, req: falcon.asgi.Request) -> Caller:
    principal = await guard(req, SEARCH_ROLES, None)
    return Caller(principal.id, frozenset(principal.roles), principal.scope_path)


def _params(req: falcon.asgi.Request) -> SearchParams:
    return SearchParams(
        q=req.get_param("q") or "",
        time_from=req.get_param("from"),
        time_to=req.get_param("to"),
        sort=req.get_param("sort"),
        size=req.get_param_as_int("size"),
        search_after=req.get_param("search_after"),
    )


class Events:
    """``GET /audit/events``: one page of matching events, newest first by default."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op(
            "Search audit events (query language: docs/audit-search.md)",
            "503",
            params=_SEARCH_PARAMS,
        )
    }

    def __init__(self, search: AuditSearch, guard: Guard) -> None:
        self._search, self._guard = search, guard

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await _caller(self._guard, req)
        page = await asyncio.to_thread(self._search.search, caller, _params(req))
        resp.media = {
            "total": {"value": page.total, "relation": "eq" if page.total_exact else "gte"},
            "events": list(page.documents),
            "search_after": encode_cursor(page.search_after),
        }


class AggregationsResource:
    """``GET /audit/aggregations``: date histogram and top users, IPs, actions, outcomes."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("Aggregate audit events", "503", params=("q", "from", "to", "interval", "top"))
    }

    def __init__(self, search: AuditSearch, guard: Guard) -> None:
        self._search, self._guard = search, guard

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await _caller(self._guard, req)
        top = req.get_param_as_int("top")
        top = 10 if top is None else top  # 0 is refused by the service, not made 10
        interval = req.get_param("interval") or "auto"
        result = await asyncio.to_thread(
            lambda: self._search.aggregate(caller, _params(req), interval=interval, top=top)
        )
        resp.media = aggregations_json(result)


def aggregations_json(result: Aggregations) -> dict[str, Any]:
    return {
        "interval": f"{result.interval_seconds}s",
        "histogram": [{"key": b.key, "count": b.count} for b in result.histogram],
        "top": {
            field: [{"key": b.key, "count": b.count} for b in buckets]
            for field, buckets in result.top.items()
        },
    }


class Export:
    """``GET /audit/export?format=csv|ndjson``: every match, streamed page by page."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op(
            "Export matching audit events as CSV or NDJSON (streamed)",
            "503",
            params=("format", "q", "from", "to", "sort"),
            content={f.media_type: {"schema": {"type": "string"}} for f in ExportFormat},
        )
    }

    def __init__(self, search: AuditSearch, guard: Guard) -> None:
        self._search, self._guard = search, guard

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await _caller(self._guard, req)
        try:
            fmt = ExportFormat(req.get_param("format") or "ndjson")
        except ValueError:
            raise InvalidSearch("format must be csv or ndjson.") from None
        params = _params(req)
        self._search.spec(caller, params)  # refuse a bad request before streaming begins
        chunks = export_chunks(self._search.documents(caller, params), fmt)
        resp.content_type = fmt.media_type
        resp.set_header("Content-Disposition", f'attachment; filename="audit-events.{fmt.value}"')
        resp.stream = _stream(chunks)


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Pull each chunk in a worker thread: the event loop never waits on the store."""
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            return
        yield chunk


class SavedSearches:
    """``GET/POST /audit/saved-searches``: the caller's own saved searches."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("List your saved audit searches"),
        "post": _op("Save an audit search", body=SAVED_SEARCH, ok="201"),
    }

    def __init__(self, saved: SavedSearchService, guard: Guard) -> None:
        self._saved, self._guard = saved, guard

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await _caller(self._guard, req)
        found = await asyncio.to_thread(self._saved.list, caller)
        resp.media = {"saved_searches": [s.to_json() for s in found]}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await _caller(self._guard, req)
        saved = await asyncio.to_thread(self._saved.save, caller, await req.get_media())
        resp.status = falcon.HTTP_201
        resp.location = f"/audit/saved-searches/{saved.id}"
        resp.media = saved.to_json()


class SavedSearch:
    """``GET/PUT/DELETE /audit/saved-searches/{search_id}``."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("One of your saved audit searches", "404"),
        "put": _op("Replace one of your saved audit searches", "404", body=SAVED_SEARCH),
        "delete": _op("Delete one of your saved audit searches", "404", ok="204"),
    }

    def __init__(self, saved: SavedSearchService, guard: Guard) -> None:
        self._saved, self._guard = saved, guard

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, search_id: str
    ) -> None:
        caller = await _caller(self._guard, req)
        resp.media = (await asyncio.to_thread(self._saved.get, caller, search_id)).to_json()

    async def on_put(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, search_id: str
    ) -> None:
        caller = await _caller(self._guard, req)
        saved = await asyncio.to_thread(self._saved.save, caller, await req.get_media(), search_id)
        resp.media = saved.to_json()

    async def on_delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, search_id: str
    ) -> None:
        caller = await _caller(self._guard, req)
        await asyncio.to_thread(self._saved.delete, caller, search_id)
        resp.status = 204


def add_routes(
    api: Router, *, search: AuditSearch, saved: SavedSearchService, guard: Guard
) -> None:
    api.add_route("/audit/events", Events(search, guard))
    api.add_route("/audit/aggregations", AggregationsResource(search, guard))
    api.add_route("/audit/export", Export(search, guard))
    api.add_route("/audit/saved-searches", SavedSearches(saved, guard))
    api.add_route("/audit/saved-searches/{search_id}", SavedSearch(saved, guard))
