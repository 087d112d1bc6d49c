"""The audit search page's state in its URL: ranges, cursor pages, facet clauses, the caret."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from hypothesis import given
from hypothesis import strategies as s

from anbao.console.pages.audit import state as st

ZONE = "Asia/Shanghai"


def read(query: str) -> st.SearchState:
    values = {k: v[-1] for k, v in parse_qs(query).items()}
    return st.SearchState.read(values.get)


def test_defaults_and_hostile_values_fall_back() -> None:
    state = st.SearchState.read(
        {"range": "5y", "size": "100000", "page": "-3", "after": "../x", "order": "sideways"}.get
    )
    assert state == st.SearchState()


def test_a_quick_range_is_relative_and_a_custom_one_is_read_in_the_console_zone() -> None:
    assert st.SearchState(range="7d").window(ZONE) == ("now-7d", "")
    assert st.SearchState(range="all").window(ZONE) == ("", "")
    custom = st.SearchState(range="custom", start="2026-12-01T08:00", end="2026-12-02T08:00")
    assert custom.window(ZONE) == ("2026-12-01T08:00:00+08:00", "2026-12-02T08:00:00+08:00")


def test_backwards_pages_ask_in_the_reverse_order() -> None:
    forward = st.SearchState(after="abc").api_params(ZONE)
    backward = st.SearchState(before="abc").api_params(ZONE)
    assert forward["sort"] == "@timestamp:desc,event.id:asc"
    assert backward["sort"] == "@timestamp:asc,event.id:desc"
    assert forward["search_after"] == backward["search_after"] == "abc"
    assert st.SearchState(order="asc", before="x").api_params(ZONE, size=1)["size"] == "1"


def test_a_new_query_starts_at_page_one() -> None:
    deep = st.SearchState(q="a", after="c1", page=300)
    assert read(deep.query(q="b")) == st.SearchState(q="b")
    assert read(deep.query()) == deep


def test_first_page_links_forward_only() -> None:
    pager = st.pager(st.SearchState(), count=50, edge="E", far_edge=None)
    assert pager.previous == ""
    assert read(pager.next) == st.SearchState(after="E", page=2)
    assert st.pager(st.SearchState(), count=3, edge=None, far_edge=None).next == ""


def test_a_deep_page_links_back_by_its_first_event_and_on_by_its_last() -> None:
    here = st.SearchState(after="A", page=205)
    pager = st.pager(here, count=50, edge="LAST", far_edge="FIRST")
    assert read(pager.previous) == st.SearchState(before="FIRST", page=204)
    assert read(pager.next) == st.SearchState(after="LAST", page=206)


def test_a_page_reached_backwards_links_on_by_its_last_event() -> None:
    here = st.SearchState(before="B", page=204)
    # asked backwards: the API's edge is the page's first event, the far edge its last.
    pager = st.pager(here, count=50, edge="FIRST", far_edge="LAST")
    assert read(pager.previous) == st.SearchState(before="FIRST", page=203)
    assert read(pager.next) == st.SearchState(after="LAST", page=205)
    assert st.pager(
        st.SearchState(before="B", page=2), count=50, edge="F", far_edge="L"
    ).previous == (st.SearchState().query())


def test_a_facet_clause_joins_the_query_and_keeps_an_or_together() -> None:
    assert st.SearchState().with_clause("user.name", "alice") == 'user.name:"alice"'
    assert st.SearchState(q="a OR b").with_clause("source.ip", "::1", negate=True) == (
        '(a OR b) AND NOT source.ip:"::1"'
    )
    narrowed = st.SearchState(q='user.name:"al\\"ice"')
    assert narrowed.with_clause("user.name", 'al"ice') == narrowed.q


@pytest.mark.parametrize(
    ("query", "position", "line", "caret"),
    [
        ("user.name:alice AND (denied", 27, "user.name:alice AND (denied", " " * 27 + "^"),
        ("a\nb :", 4, "b :", "  ^"),
        ("用户:x)", 4, "用户:x)", "\u3000\u3000  ^"),
        ("", 5, "", "^"),
    ],
)
def test_the_caret_points_at_the_character(
    query: str, position: int, line: str, caret: str
) -> None:
    assert st.caret(query, position) == (line, caret)


@given(s.text(max_size=80), s.integers(min_value=-5, max_value=100))
def test_the_caret_line_never_overruns(query: str, position: int) -> None:
    line, caret = st.caret(query, position)
    assert caret.endswith("^")
    assert "\n" not in line
    assert len(caret) <= len(line) + 1


def test_columns_keep_known_fields_in_order_else_the_default() -> None:
    assert st.columns("event.id,nope,event.id,user.name") == ("event.id", "user.name")
    assert st.columns("labels") == st.DEFAULT_COLUMNS
    assert st.columns(None) == st.DEFAULT_COLUMNS


def test_event_fields_as_text() -> None:
    event = {"event": {"id": "e1", "category": ["web", "api"]}, "user": {"name": "a"}}
    assert st.value(event, "event.category") == "web, api"
    assert st.value(event, "source.ip") == ""
    assert st.flatten(event) == [
        ("event.category", "web, api"),
        ("event.id", "e1"),
        ("user.name", "a"),
    ]


def test_a_saved_search_comes_back_as_its_range() -> None:
    quick = st.saved_link({"q": "x", "time_from": "now-7d", "time_to": "now"}, ZONE)
    assert read(quick) == st.SearchState(q="x", range="7d")
    custom = st.saved_link(
        {"q": "", "time_from": "2026-12-01T00:00:00Z", "time_to": "2026-12-02T00:00:00Z"}, ZONE
    )
    assert read(custom) == st.SearchState(
        range="custom", start="2026-12-01T08:00", end="2026-12-02T08:00"
    )
    assert read(st.saved_link({"q": "y"}, ZONE)) == st.SearchState(q="y", range="all")
