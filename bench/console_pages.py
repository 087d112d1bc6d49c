"""What the console bench asks of each page, and which API calls each page wraps.

Written from the pages' code (anbao/console/pages/): when a page changes the calls it makes,
its workload here changes with it. The audit search cases are a mix of the analysts' queries
(bench/audit_search.py's) and time ranges over the month the bench's events fall in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import zoneinfo
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from anbao.console.pages import overview as overview_page
from anbao.demo import data, samples
from audit.search.elasticsearch import ElasticsearchSearch
from audit.search.service import AuditSearch, Caller, SearchParams
from audit.stores.elasticsearch import ElasticsearchAuditStore
from bench.console_audit import MONTH_END
from bench.console_timing import Call, Side, Steps
from crypto.seals.format.ofd import sign_ofd
from crypto.seals.format.testing import make_sample_seal
from crypto.seals.preview import render_stamped_page


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    console: Steps  # what the browser asks for the page (the page, then its partials)
    api: Steps  # the API calls the page's code makes for it
    public: bool = False  # asked without the session cookie
    #: The console's own cost with no API call, timed alongside (where the time goes).
    floor: Steps = ()
    floor_is: str = ""


#: Pages the analyst may not open: the first in the tree gives the signed-in floor, its 403
#: page (session read and unsealed, roles checked, base template rendered, no API call).
FORBIDDEN_TO_ANALYST = ("/console/orgs", "/console/apps", "/console/compliance", "/console/seals")
SIGNED_IN_FLOOR_IS = (
    "a 403 page: session read and unsealed, roles checked, base template rendered; no API call"
)


def signed_in_floor(path: str) -> Steps:
    return ((Call("GET", path, expect=403),),) if path else ()


@dataclasses.dataclass(frozen=True)
class SearchCase:
    q: str
    days: float  # the time range: this many days up to the end of the events' month

    @property
    def label(self) -> str:
        span = f"{self.days * 24:g} h" if self.days < 1 else f"{self.days:g} d"
        return f"{self.q or '(all events)'} | last {span}"

    def local_window(self) -> tuple[str, str]:
        """The page's custom range: ``datetime-local`` values in the console's zone."""
        end = MONTH_END.astimezone(ZONE)
        start = end - dt.timedelta(days=self.days)
        return start.strftime("%Y-%m-%dT%H:%M"), end.strftime("%Y-%m-%dT%H:%M")

    def api_window(self) -> tuple[str, str]:
        """The API's ``from`` and ``to`` the page sends for that range (``state._iso``)."""
        start, end = self.local_window()
        return tuple(  # type: ignore[return-value]
            dt.datetime.fromisoformat(v).replace(tzinfo=ZONE).isoformat() for v in (start, end)
        )


#: ``console.timezone``'s default: the page reads a custom range in this zone.
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
#: What analysts ask most (bench/audit_search.py's queries) ...
QUERIES = (
    "",
    "event.action:login AND event.outcome:failure",
    "denied",
    '"access denied" OR expired',
    "user.name:adm*",
    "http.response.status_code>=500 AND source.ip:10.0.0.0/8",
)
#: ... over an hour, a day, a week and the whole month.
RANGES_DAYS = (1 / 24, 1.0, 7.0, 30.0)
#: The case the server-time section times the audit page with: a week, a typical query.
SERVER_TIME_CASE = SearchCase("event.action:login AND event.outcome:failure", 7.0)


def search_cases() -> list[SearchCase]:
    return [SearchCase(q, days) for days in RANGES_DAYS for q in QUERIES]


#: anbao/console/pages/overview.py: the panels the analyst may see, read all at once.
SEVERITIES = ("critical", "high", "medium", "low", "informational")


def _get(path: str, **params: str) -> Call:
    """A GET as the console's ``api.get`` sends it (empty values left out)."""
    return Call("GET", path, tuple((k, v) for k, v in params.items() if v))


def overview(floor: Steps) -> Workload:
    """The overview as the analyst sees it: open alerts per severity, audit volume of the last
    7 days, health — every call at once (``asyncio.gather``); the first cut had health only."""
    if not hasattr(overview_page, "audit_volume"):
        return Workload(
            "overview",
            console=((Call("GET", "/console/"),),),
            api=((Call("GET", "/readyz"),),),
            floor=floor,
            floor_is=SIGNED_IN_FLOOR_IS,
        )
    alerts = tuple(_get("/siem/alerts", status="open", severity=s, limit="1") for s in SEVERITIES)
    volume = _get("/audit/aggregations", **{"from": "now-7d", "to": "now"}, interval="6h", top="1")
    return Workload(
        "overview",
        console=((Call("GET", "/console/"),),),
        api=((*alerts, volume, Call("GET", "/readyz")),),
        floor=floor,
        floor_is=SIGNED_IN_FLOOR_IS,
    )


def audit_workload(case: SearchCase, floor: Steps = ()) -> Workload:
    """anbao/console/pages/audit/search.py, first load with a query and a custom range: the
    page of events and the aggregations (histogram, facets) at once, then the saved searches.
    The results and histogram come in the page itself (htmx swaps them only on changes)."""
    start, end = case.local_window()
    time_from, time_to = case.api_window()
    page = (("q", case.q), ("range", "custom"), ("start", start), ("end", end))
    window = {"q": case.q, "from": time_from, "to": time_to}
    return Workload(
        "audit_search",
        console=((Call("GET", "/console/audit", tuple((k, v) for k, v in page if v)),),),
        api=(
            (
                _get("/audit/events", **window, sort="@timestamp:desc,event.id:asc", size="50"),
                _get("/audit/aggregations", **window, interval="auto", top="5"),
            ),
            (_get("/audit/saved-searches"),),
        ),
        floor=floor,
        floor_is=SIGNED_IN_FLOOR_IS,
    )


def as_htmx(steps: Steps) -> Steps:
    """The same requests as htmx sends them to swap the search's workspace (audit/search.py:
    ``HX-Request`` and ``HX-Target: workspace`` render the results and histogram only)."""
    headers = (("HX-Request", "true"), ("HX-Target", "workspace"))
    return tuple(
        tuple(dataclasses.replace(call, headers=call.headers + headers) for call in step)
        for step in steps
    )


def signed_ofd() -> bytes:
    """The demo's notice, signed with a test seal (its PKI unknown to the server: every check
    runs and the report says the chain is untrusted)."""
    now = dt.datetime.now(dt.UTC)
    sample = make_sample_seal(now - dt.timedelta(days=1))
    title, lines = data.SAMPLE_DOCUMENTS["notice.ofd"]
    return sign_ofd(
        samples.text_ofd(title, lines),
        seal=sample.seal,
        key=sample.key,
        cert=sample.cert,
        now=now,
    )


def seal_verification(document: bytes) -> Workload:
    """anbao/console/pages/seal_verify.py: the upload, verified by ``POST /seals/verify``."""
    return Workload(
        "seal_verification",
        console=(
            (
                Call(
                    "POST",
                    "/console/verify",
                    upload=("file", "notice.ofd", document, "application/ofd"),
                ),
            ),
        ),
        api=(
            (
                Call(
                    "POST",
                    "/seals/verify",
                    body=document,
                    content_type="application/octet-stream",
                ),
            ),
        ),
        public=True,
        floor=((Call("GET", "/console/verify"),),),
        floor_is="the empty verification form rendered (no session, no upload, no API call)",
    )


def preview_seconds(document: bytes, reps: int) -> list[float]:
    """The stamped page drawn as the verification page draws it (crypto.seals.preview), in
    this process: work the page does on top of the API call."""
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        render_stamped_page(document)
        times.append(time.perf_counter() - started)
    return times


def server_time_workloads(document: bytes, floor: Steps) -> list[Workload]:
    return [overview(floor), audit_workload(SERVER_TIME_CASE, floor), seal_verification(document)]


def lighthouse_pages() -> list[tuple[str, str, bool]]:
    """(name, path, public) of the pages Lighthouse scores."""
    (call,) = audit_workload(SERVER_TIME_CASE).console[0]
    audit = f"/console/audit?{urlencode(call.params)}"
    return [
        ("overview", "/console/", False),
        ("audit_search", audit, False),
        ("seal_verification", "/console/verify", True),
    ]


class _Recording(ElasticsearchSearch):
    """The search backend the API runs, keeping each request body it sends."""

    def __init__(self, store: ElasticsearchAuditStore) -> None:
        super().__init__(store.client, store.pattern, clock=lambda: dt.datetime.now(dt.UTC))
        self.bodies: list[dict[str, Any]] = []

    def _call(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        return super()._call(body)


def _bodies(store: ElasticsearchAuditStore, call: Call) -> list[dict[str, Any]]:
    """The Elasticsearch bodies the API sends for ``call`` (the analyst's scope: ``/``)."""
    backend = _Recording(store)
    service = AuditSearch(backend, clock=lambda: dt.datetime.now(dt.UTC))
    caller = Caller("bench", frozenset({"security-analyst"}), "/")
    params = dict(call.params)
    search = SearchParams(
        q=params.get("q", ""),
        time_from=params.get("from"),
        time_to=params.get("to"),
        sort=params.get("sort"),
        size=int(params["size"]) if "size" in params else None,
    )
    if call.path == "/audit/events":
        service.search(caller, search)
    elif call.path == "/audit/aggregations":
        top = int(params.get("top", "10"))
        service.aggregate(caller, search, interval=params.get("interval", "auto"), top=top)
    return backend.bodies


def raw_search_side(store: ElasticsearchAuditStore, api: Steps) -> Side:
    """The raw Elasticsearch requests of the API steps, grouped as the API calls are."""
    steps: Sequence[list[dict[str, Any]]] = [
        [body for call in step for body in _bodies(store, call)] for step in api
    ]

    def one(body: dict[str, Any]) -> object:
        return store.client.search(index=store.pattern, ignore_unavailable=True, **body).body

    async def run() -> None:
        for bodies in steps:
            await asyncio.gather(*(asyncio.to_thread(one, body) for body in bodies))

    return run
