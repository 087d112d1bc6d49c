"""The audit search page (security analysts and auditors): query, time, histogram, facets, table.

Modelled on Kibana Discover: one query line in the audit query language with its syntax at
hand, a time range, the histogram of the matches over time, the top users, addresses, actions
and outcomes as facets that narrow the query when clicked, and the events in a table whose
columns each person chooses (kept in a cookie of theirs, per person). When the query or the
range changes, htmx swaps the results and the histogram only; the address follows
(``hx-push-url``), so every state of the page is a link.

A query the API cannot parse comes back as its RFC 9457 problem with the 0-based ``position``
(``audit.search.query.parse.ParseError``); the page shows the query with a caret under that
character, and keeps the person's text to mend.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from typing import Any

import falcon
import falcon.asgi

from anbao.console import charts
from anbao.console.api import ApiClient, Problem
from anbao.console.pages.audit import state as st
from anbao.console.web import Page, View
from audit.search.query.parse import SEARCHABLE

ROLES = frozenset({"security-analyst", "auditor"})
_QUERY_INVALID = "audit_query_invalid"
_TOP = 5
_FACETS = (
    ("user.name", "Top users"),
    ("source.ip", "Top IP addresses"),
    ("event.action", "Top actions"),
    ("event.outcome", "Outcomes"),
)
_YEAR = 365 * 86400


@dataclasses.dataclass(frozen=True, slots=True)
class QueryError:
    """What the API refused, for the page: the message, and the caret when it has a position."""

    title: str
    detail: str
    line: str = ""
    caret: str = ""
    position: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Results:
    events: list[dict[str, Any]]
    total: int
    exact: bool
    pager: st.Pager
    histogram: charts.Chart | None
    buckets: list[tuple[str, int, str]]  # start, count, the search narrowed to it
    interval: str
    facets: list[tuple[str, str, list[dict[str, Any]]]]


class AuditSearch(Page):
    roles = ROLES

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        search = st.SearchState.read(req.get_param)
        chosen = _columns(self.console, view, req, resp)
        results: Results | None = None
        error: QueryError | None = None
        async with view.api() as api:
            try:
                results = await run(api, search, view)
            except Problem as problem:
                if problem.status >= 500 or problem.status in (401, 403):  # noqa: PLR2004
                    raise
                error = query_error(problem, search.q)
            if results is not None and results.events == [] and search.before:
                # Asked backwards past the start: that is the first page.
                search = st.SearchState.read(
                    lambda k: None if k in {"before", "page"} else req.get_param(k)
                )
                results = await run(api, search, view)
            saved = await _saved(api)
        context: dict[str, Any] = {
            "search": search,
            "results": results,
            "error": error,
            "columns": chosen,
            "all_columns": st.COLUMNS,
            "presets": st.PRESETS,
            "sizes": st.SIZES,
            "fields": SEARCHABLE,
            "facet_titles": dict(_FACETS),
            "saved": saved,
            "value": st.value,
            "saved_link": lambda saved: st.saved_link(saved, self.console.zone),
        }
        template = "audit_results.html" if _partial(req) else "audit.html"
        status = falcon.HTTP_400 if error and not _partial(req) else falcon.HTTP_200
        self.console.render(req, resp, template, view, status=status, **context)


def _partial(req: falcon.asgi.Request) -> bool:
    """An htmx request for the results only (the search form's own swap)."""
    return req.get_header("HX-Request") == "true" and req.get_header("HX-Target") == "workspace"


async def run(api: ApiClient, search: st.SearchState, view: View) -> Results:
    """The page's API calls, at once: the page of events, its far edge, the aggregations."""
    zone = view.console.zone
    time_from, time_to = search.window(zone)
    aggregations = {
        "q": search.q,
        "from": time_from,
        "to": time_to or ("now" if time_from else ""),
        "interval": "auto",
        "top": str(_TOP),
    }
    calls = [
        api.get("/audit/events", **search.api_params(zone)),
        api.get("/audit/aggregations", **aggregations),
    ]
    if search.after or search.before:
        calls.append(api.get("/audit/events", **search.api_params(zone, size=1)))
    answers = await asyncio.gather(*calls)
    page, aggs = answers[0], answers[1]
    far_edge = answers[2].get("search_after") if len(answers) > 2 else None  # noqa: PLR2004
    events = list(page["events"])
    if search.before:
        events.reverse()
    pager = st.pager(search, count=len(events), edge=page.get("search_after"), far_edge=far_edge)
    return Results(
        events=events,
        total=int(page["total"]["value"]),
        exact=page["total"]["relation"] == "eq",
        pager=pager,
        histogram=_histogram(aggs, view),
        buckets=[
            (b["key"], int(b["count"]), st.zoom(search, b["key"], _seconds(aggs), zone))
            for b in aggs["histogram"]
        ],
        interval=str(aggs["interval"]),
        facets=[(f, title, list(aggs["top"].get(f, []))) for f, title in _FACETS],
    )


def _histogram(aggs: dict[str, Any], view: View) -> charts.Chart | None:
    buckets = aggs["histogram"]
    if not buckets:
        return None
    seconds = _seconds(aggs)
    labels = st.bucket_labels([b["key"] for b in buckets], view.tr.when, seconds)
    counts = [int(b["count"]) for b in buckets]
    name = view.tr.t("Events")
    option = charts.histogram(labels, counts, name=name, zoom=len(buckets) > 60)  # noqa: PLR2004
    summary = view.tr.t(
        "Events over time: %(total)s events in %(buckets)s intervals, at most %(peak)s in one.",
        total=view.tr.number(sum(counts)),
        buckets=view.tr.number(len(counts)),
        peak=view.tr.number(max(counts)),
    )
    return charts.Chart("audit-histogram", option, summary)


def _seconds(aggs: dict[str, Any]) -> int:
    return int(str(aggs["interval"]).rstrip("s") or 0)


def query_error(problem: Problem, query: str) -> QueryError:
    """The API's problem as the page shows it; a parse error gets the caret at its position."""
    position = problem.body.get("position")
    detail = problem.detail
    if problem.type.endswith(_QUERY_INVALID) and isinstance(position, int):
        detail = detail.removesuffix(f" (at position {position})")
        line, caret = st.caret(query, position)
        return QueryError(problem.title, detail, line, caret, position)
    return QueryError(problem.title, detail)


async def _saved(api: ApiClient) -> list[dict[str, Any]]:
    answer = await api.get("/audit/saved-searches")
    return sorted(answer["saved_searches"], key=lambda s: str(s.get("name", "")))


def _cookie_name(view: View) -> str:
    """One cookie per person, so two people sharing a browser keep their own columns."""
    digest = hashlib.sha256(view.session.subject.encode()).hexdigest()[:12]
    return f"anbao_audit_cols_{digest}"


def _columns(
    console: Any, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response
) -> tuple[str, ...]:
    """The person's columns: just chosen (``col`` ticks, then remembered), else remembered."""
    ticked = req.get_param_as_list("col")
    name = _cookie_name(view)
    if ticked:
        chosen = st.columns(",".join(ticked))
        resp.set_cookie(
            name,
            ",".join(chosen),
            max_age=_YEAR,
            path="/console/audit",
            secure=console.cookies.secure,
            http_only=True,
            same_site="Strict",
        )
        return chosen
    remembered = req.get_cookie_values(name)
    return st.columns(remembered[0] if remembered else None)
