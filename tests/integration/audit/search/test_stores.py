"""One query suite, two stores: SQLite (FTS5) and the real Elasticsearch answer identically.

The same deterministic events go into both stores through the stores' own write paths; every
query, page, cursor walk and aggregation below must give the same documents in the same order.
A few results are also pinned against a plain-Python reading of the events, so "identical"
cannot mean "identically wrong".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterator

import pytest

from anbao.wiring.search import ensure_search_mappings
from audit.model import AuditEvent
from audit.search.elasticsearch import ElasticsearchSearch
from audit.search.model import SearchBackend, SearchSpec, scroll
from audit.search.query.parse import Limits, parse
from audit.search.service import AuditSearch, Caller, SearchParams
from audit.search.sqlite import SqliteSearch, ensure_schema
from audit.search.testing import sample_events
from audit.sensitive.masking import MASK
from audit.stores.elasticsearch import ElasticsearchAuditStore
from audit.stores.es_client import EsConnection
from audit.stores.sqlite import SqliteAuditStore
from tests.integration.conftest import Server

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
COUNT = 900


def clock() -> dt.datetime:
    return NOW


@pytest.fixture(scope="module")
def events() -> list[AuditEvent]:
    return list(sample_events(COUNT))


@pytest.fixture(scope="module")
def sqlite_backend(
    events: list[AuditEvent], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqliteSearch]:
    path = tmp_path_factory.mktemp("search") / "audit.sqlite3"
    store = SqliteAuditStore(path)
    store.write_batch(events[: COUNT // 2])
    ensure_schema(path)  # backfills the rows already there ...
    store.write_batch(events[COUNT // 2 :])  # ... and the triggers index the rest
    backend = SqliteSearch(path, clock=clock)
    yield backend
    backend.close()
    store.close()


@pytest.fixture(scope="module")
def es_backend(events: list[AuditEvent], elasticsearch: Server) -> Iterator[ElasticsearchSearch]:
    store = ElasticsearchAuditStore(
        EsConnection(
            elasticsearch.url,
            elasticsearch.env["ELASTICSEARCH_USERNAME"],
            elasticsearch.env["ELASTICSEARCH_PASSWORD"],
            timeout=30,
        ),
        prefix=f"anbao-search-test-{secrets.token_hex(4)}",
        retention_days=1,
        development=True,
    )
    try:
        ensure_search_mappings(store)
        for start in range(0, COUNT, 300):
            assert not store.write_batch(events[start : start + 300]).rejected
        store.refresh()
        yield ElasticsearchSearch(store.client, store.pattern, clock=clock)
    finally:
        store.delete_all()
        store.close()


@pytest.fixture(scope="module")
def backends(
    sqlite_backend: SqliteSearch, es_backend: ElasticsearchSearch
) -> tuple[SearchBackend, SearchBackend]:
    return sqlite_backend, es_backend


def ids(documents: object) -> list[str]:
    return [d["event"]["id"] for d in documents]  # type: ignore[attr-defined]


QUERIES = [
    "",
    "denied",
    '"access denied"',
    '"denied access"',
    "DENIED AND policy",
    "pass*",
    "firefox OR curl",
    "登录",
    '"用户 登录"',
    "gültigkeit",
    "seal",
    "user.name:alice",
    "user.name:Eve",
    "user.name:eve",
    "user.name:张伟",
    "user.name:(alice OR bob) AND NOT event.outcome:success",
    "user.name:adm*",
    "user.name:?ve",
    "url.path:*use",
    "NOT user.name:alice",
    "user.roles:admin",
    "NOT user.roles:admin",
    "user.roles:*",
    "event.category:iam AND event.category:api",
    "event.reason:expired",
    "event.reason:*",
    "NOT event.reason:*",
    "user_agent.original:linux",
    r"url.path:/a\*b?c\[d\]",
    r"url.path:/a\**",
    'url.path:"/x y"',
    "url.path:/seal/k-1:use",
    "source.ip:10.0.0.0/8",
    "source.ip:10.0.0.1",
    "NOT source.ip:10.0.0.0/8",
    "source.ip:2001:db8::/32",
    'source.ip:"::1"',
    "source.ip:[10.0.0.2 TO 192.168.1.10]",
    "source.ip:{10.0.0.1 TO *]",
    "http.response.status_code>=401",
    "http.response.status_code:[401 TO 403}",
    "event.duration<500000000",
    "event.duration:*",
    "@timestamp:2026-11-01",
    "@timestamp:[2026-11-02 TO 2026-11-02]",
    "@timestamp>=2026-11-01T05:00:00Z AND @timestamp<2026-11-01T06:00:00.000450Z",
    "@timestamp>now-19d",
    "event.action:[login TO seal.use]",
    "event.action>user",
    "organization.path:/gov/finance*",
    "resource.name:finance",
    'resource.name:"Finance seal"',
    "(denied OR expired) AND NOT (user.name:alice OR source.ip:10.0.0.0/8)",
    "NOT NOT user.name:bob",
]


@pytest.mark.parametrize("text", QUERIES)
def test_same_results_on_both_stores(
    text: str, backends: tuple[SearchBackend, SearchBackend]
) -> None:
    query = parse(text, limits=Limits(allow_leading_wildcard=True))
    spec = SearchSpec(query, size=1000, sort=(("@timestamp", "asc"),))
    lite, es = (b.search(spec) for b in backends)
    assert ids(lite.documents) == ids(es.documents), text
    assert (lite.total, lite.total_exact) == (es.total, es.total_exact)


@pytest.mark.parametrize(
    ("text", "predicate"),
    [
        ("user.name:Eve", lambda e: e.user.name == "Eve"),
        ("denied", lambda e: "denied" in e.reason.lower().split()),
        ("NOT source.ip:10.0.0.0/8", lambda e: not e.source_ip.startswith("10.")),
        ("user.roles:admin", lambda e: "admin" in e.user.roles),
        ("@timestamp:2026-11-02", lambda e: e.timestamp.date() == dt.date(2026, 11, 2)),
        ("organization.path:/gov/finance*", lambda e: e.org_path.startswith("/gov/finance")),
        (
            "http.response.status_code>=401",
            lambda e: e.http is not None and e.http.status_code >= 401,
        ),
        ("gültigkeit", lambda e: "Gültigkeit" in e.reason),
    ],
)
def test_results_match_a_plain_reading(
    text: str, predicate: object, events: list[AuditEvent], sqlite_backend: SqliteSearch
) -> None:
    expected = sorted(e.id for e in events if predicate(e))  # type: ignore[operator]
    assert expected, "the data set must exercise the query"
    found = sqlite_backend.search(SearchSpec(parse(text), size=1000))
    assert sorted(ids(found.documents)) == expected


@pytest.mark.parametrize(
    "sort",
    [
        (("@timestamp", "desc"),),
        (("event.action", "asc"), ("@timestamp", "desc")),
        (("event.outcome", "desc"), ("anbao.sequence", "asc")),
    ],
)
def test_search_after_walks_the_same_pages(
    sort: tuple[tuple[str, str], ...], backends: tuple[SearchBackend, SearchBackend]
) -> None:
    spec = SearchSpec(parse("NOT user.name:bob"), size=37, sort=sort)
    lite, es = (ids(scroll(b, spec)) for b in backends)
    assert lite == es
    assert len(lite) == len(set(lite)) > 37 * 3
    full = backends[0].search(dataclasses.replace(spec, size=1000))
    assert ids(full.documents) == lite


def test_microsecond_order_and_bounds(
    backends: tuple[SearchBackend, SearchBackend], events: list[AuditEvent]
) -> None:
    """Three events share each millisecond: order and ranges need microseconds on both stores."""
    first = sorted(events, key=lambda e: (e.timestamp, e.id))[:3]
    assert first[0].timestamp.replace(microsecond=0) == first[2].timestamp.replace(microsecond=0)
    bound = first[1].timestamp.isoformat().replace("+00:00", "Z")
    spec = SearchSpec(parse(f'@timestamp<"{bound}"'), size=10)
    for backend in backends:
        assert ids(backend.search(spec).documents) == [first[0].id]


def test_org_scope_and_time_window(
    backends: tuple[SearchBackend, SearchBackend], events: list[AuditEvent]
) -> None:
    spec = SearchSpec(
        org_scope="/gov/finance",
        time_from=dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC),
        time_to=dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC),
        size=1000,
    )
    lite, es = (ids(b.search(spec).documents) for b in backends)
    assert lite == es
    expected = {
        e.id
        for e in events
        if e.org_path in ("/gov/finance", "/gov/finance/tax")
        and spec.time_from <= e.timestamp < spec.time_to  # type: ignore[operator]
    }
    assert set(lite) == expected
    assert expected


@pytest.mark.parametrize("interval", [3600, 86400])
def test_aggregations_agree(interval: int, backends: tuple[SearchBackend, SearchBackend]) -> None:
    spec = SearchSpec(parse("NOT event.outcome:unknown"), org_scope="/gov")
    lite, es = (b.aggregate(spec, interval, 5) for b in backends)
    assert lite == es
    assert sum(b.count for b in lite.histogram) == backends[0].search(spec).total
    assert [len(v) for v in lite.top.values()] == [5, 5, 5, 2]


def test_service_masks_and_scopes(backends: tuple[SearchBackend, SearchBackend]) -> None:
    caller = Caller("u-1", frozenset({"auditor"}), "/gov/health")
    for backend in backends:
        service = AuditSearch(backend, clock=clock, limits=Limits())
        page = service.search(caller, SearchParams(q="", size=1000))
        orgs = {d.get("organization", {}).get("path") for d in page.documents}
        assert orgs == {"/gov/health"}  # not the sibling /gov/healthcare
        phones = {d.get("personal", {}).get("phone") for d in page.documents} - {None}
        assert phones == {MASK}
