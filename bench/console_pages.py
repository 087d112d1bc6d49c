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
from collections.abc import Sequence
from typing import Any

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
FORBIDDEN_TO_ANALYST = ("/console/orgs", "/console/apps", "/console/compliance")
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

    def window(self) -> tuple[str, str]:
        start = MONTH_END - dt.timedelta(days=self.days)
        return _iso(start), _iso(MONTH_END)


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


def _iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def search_cases() -> list[SearchCase]:
    return [SearchCase(q, days) for days in RANGES_DAYS for q in QUERIES]


def overview(floor: Steps) -> Workload:
    """anbao/console/pages/overview.py: the health panel (``GET /readyz``)."""
    return Workload(
        "overview",
        console=((Call("GET", "/console/"),),),
        api=((Call("GET", "/readyz"),),),
        floor=floor,
        floor_is=SIGNED_IN_FLOOR_IS,
    )


def audit_workload(case: SearchCase, floor: Steps = ()) -> Workload:
    """The audit search page with a query and a time range: the page, results and histogram."""
    time_from, time_to = case.window()
    # An empty q is left out, as the console's API client leaves out empty values.
    query = ((("q", case.q),) if case.q else ()) + (("from", time_from), ("to", time_to))
    return Workload(
        "audit_search",
        console=((Call("GET", "/console/audit", query),),),
        api=(
            (
                Call("GET", "/audit/events", query),
                Call("GET", "/audit/aggregations", query),
            ),
        ),
        floor=floor,
        floor_is=SIGNED_IN_FLOOR_IS,
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
    time_from, time_to = SERVER_TIME_CASE.window()
    audit = f"/console/audit?q=event.action%3Alogin&from={time_from}&to={time_to}"
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
