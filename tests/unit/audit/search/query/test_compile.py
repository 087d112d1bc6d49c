"""The compilers: values only as parameters, never query_string; and the service's rules."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.search.export import ExportFormat, cell, export_chunks
from audit.search.model import InvalidSearch, SearchForbidden, SearchSpec, subtree
from audit.search.query.elasticsearch import compile_query
from audit.search.query.parse import And, Not, Or, Phrase, Term, Wildcard, parse
from audit.search.query.sql import compile_where
from audit.search.query.text import to_text
from audit.search.service import (
    AuditSearch,
    Caller,
    SearchParams,
    decode_cursor,
    encode_cursor,
    parse_sort,
)

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def _walk(value: object) -> list[object]:
    if isinstance(value, dict):
        return [*value.keys(), *(x for v in value.values() for x in _walk(v))]
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    return [value]


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=30))
def test_sql_never_carries_a_value(value: str) -> None:
    """Whatever the analyst types, it reaches SQLite as a parameter, never as SQL text."""
    text = to_text(Or((Term("user.name", value), Phrase("resource.name", value))))
    sql, params = compile_where(parse(text), NOW)
    assert params == [value, value]
    assert sql.count("?") == 2
    assert sql == (
        "(json_extract(doc, '$.user.name') = ? OR json_extract(doc, '$.resource.name') = ?)"
    )


def test_free_text_goes_to_fts_as_a_parameter() -> None:
    sql, params = compile_where(parse('"Access DENIED" OR pass*'), NOW)
    assert params == ['"access denied"', '"pass" *']
    assert sql.count("MATCH ?") == 2
    sql, params = compile_where(parse("event.reason:expired"), NOW)
    assert params == ['c0 : "expired"']


def test_not_is_two_valued_and_ips_use_keys() -> None:
    sql, params = compile_where(parse("NOT source.ip:10.0.0.0/8"), NOW)
    assert sql.startswith("NOT coalesce(")
    assert params[0] < params[1]
    assert all(isinstance(p, bytes) and len(p) == 16 for p in params)


def test_glob_escapes_literal_metacharacters() -> None:
    _, params = compile_where(parse(r"url.path:/a\*b?\[x*"), NOW)
    assert params == ["/a[*]b?[[]x*"]


def test_dates_resolve_against_the_injected_clock() -> None:
    _, params = compile_where(parse("@timestamp>now-1h"), NOW)
    assert params == ["2026-11-26T11:00:00.000000Z"]
    _, params = compile_where(parse("@timestamp:2026-11-02"), NOW)
    assert params == ["2026-11-02T00:00:00.000000Z", "2026-11-03T00:00:00.000000Z"]
    dsl = compile_query(parse("@timestamp:{2026-11-01 TO 2026-11-02]"), NOW)
    assert dsl == {
        "range": {
            "@timestamp": {
                "gte": "2026-11-02T00:00:00.000000Z",
                "lt": "2026-11-03T00:00:00.000000Z",
            }
        }
    }


@settings(max_examples=400)
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(
            st.sampled_from(
                [
                    "user.name:",
                    "source.ip:",
                    "@timestamp>",
                    "event.duration:",
                    "event.reason:",
                    "a",
                    "b*",
                    "10.0.0.0/8",
                    "2026-11-01",
                    "now-1d",
                    "[",
                    " TO ",
                    "]",
                    "(",
                    ")",
                    " ",
                    " OR ",
                    " NOT ",
                    '"x y"',
                    "*",
                    "500",
                ]
            ),
            max_size=12,
        ).map("".join),
    )
)
def test_es_never_uses_query_string(text: str) -> None:
    try:
        node = parse(text)
    except Exception:  # noqa: BLE001 - only ParseError is possible (see test_query_parse)
        return
    keys = {k for k in _walk(compile_query(node, NOW)) if isinstance(k, str)}
    assert not keys & {"query_string", "simple_query_string", "script", "regexp"}
    sql, params = compile_where(node, NOW)  # whatever parses also compiles to SQL
    assert sql.count("?") == len(params)


def test_es_shapes() -> None:
    assert compile_query(parse("user.name:adm*"), NOW) == {
        "wildcard": {"user.name": {"value": "adm*"}}
    }
    assert compile_query(parse("denied"), NOW)["bool"]["should"][0] == {
        "term": {"event.reason": "denied"}
    }
    assert compile_query(parse("http.response.status_code:500"), NOW) == {
        "term": {"http.response.status_code": 500}
    }


def test_subtree_is_exact_or_below_never_a_sibling() -> None:
    assert subtree("/") is None
    scope = subtree("/gov/a*b/")
    assert isinstance(scope, Or)
    exact, below = scope.operands
    assert exact == Term("organization.path", "/gov/a*b")
    assert isinstance(below, And)
    assert below.operands[0] == Wildcard("organization.path", "/gov/a\\*b/*")
    assert isinstance(below.operands[1], Not)  # dot and empty segments never match
    spec = SearchSpec(org_scope="/gov", time_from=NOW)
    assert isinstance(spec.effective_query(), And)


class _NoBackend:
    def search(self, spec: SearchSpec) -> object:
        raise AssertionError("not reached")

    def aggregate(self, spec: SearchSpec, interval_seconds: int, top_size: int) -> object:
        raise AssertionError("not reached")


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [
        (Caller("a", frozenset({"auditor"}), "/gov"), True),
        (Caller("a", frozenset({"security-analyst"}), "/"), True),
        (Caller("a", frozenset({"admin"}), "/"), False),
        (Caller("a", frozenset({"auditor"}), ""), False),
    ],
)
def test_scope_rules(caller: Caller, allowed: bool) -> None:
    service = AuditSearch(_NoBackend(), clock=lambda: NOW)  # type: ignore[arg-type]
    if allowed:
        assert service.spec(caller, SearchParams()).org_scope == caller.org_path
    else:
        with pytest.raises(SearchForbidden):
            service.spec(caller, SearchParams())


def test_sort_cursor_and_interval() -> None:
    assert parse_sort("event.action,@timestamp:desc") == (
        ("event.action", "asc"),
        ("@timestamp", "desc"),
    )
    for bad in ("user.name", "@timestamp:up", "@timestamp,@timestamp"):
        with pytest.raises(InvalidSearch):
            parse_sort(bad)
    token = encode_cursor(("2026-11-01T00:00:00.000001Z", "ev-1"))
    assert token is not None
    assert decode_cursor(token, 2) == ("2026-11-01T00:00:00.000001Z", "ev-1")
    for bad_token in ("%%%", encode_cursor((1,)), encode_cursor((True, "x"))):
        with pytest.raises(InvalidSearch):
            decode_cursor(str(bad_token), 2)
    service = AuditSearch(_NoBackend(), clock=lambda: NOW)  # type: ignore[arg-type]
    day = SearchSpec(time_from=NOW - dt.timedelta(days=1), time_to=NOW)
    assert service.interval("auto", day) == 900
    assert service.interval("2h", day) == 7200
    for bad in ("1s", "0m", "h", "1y", "9999999m"):
        with pytest.raises(InvalidSearch):
            service.interval(
                bad,
                SearchSpec(time_from=NOW - dt.timedelta(days=3650), time_to=NOW)
                if bad == "1s"
                else day,
            )


def test_csv_cells_neutralise_formulas_and_chunks_are_bounded() -> None:
    assert cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert cell(["a", "b"]) == "a;b"
    assert cell({"k": "v"}) == '{"k": "v"}'
    assert cell(None) == ""
    docs = ({"event": {"id": f"e{i}"}} for i in range(2500))
    chunks = list(export_chunks(docs, ExportFormat.NDJSON, chunk=1000))
    assert [c.count(b"\n") for c in chunks] == [1000, 1000, 500]
    assert json.loads(chunks[2].splitlines()[-1]) == {"event": {"id": "e2499"}}
