"""The query language parser: structure, precedence, limits, positions, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.search.query.parse import (
    And,
    Exists,
    Limits,
    MatchAll,
    Not,
    Or,
    ParseError,
    Phrase,
    Range,
    Term,
    Wildcard,
    parse,
)
from audit.search.query.text import to_text


def test_empty_query_matches_all() -> None:
    assert parse("   ") == MatchAll()


def test_field_value_and_free_text() -> None:
    assert parse("event.action:login denied") == And(
        (Term("event.action", "login"), Term(None, "denied"))
    )


def test_precedence_not_over_and_over_or() -> None:
    a, b, c = (Term("user.name", v) for v in "abc")
    assert parse("user.name:a OR user.name:b AND NOT user.name:c") == Or((a, And((b, Not(c)))))
    assert parse("(user.name:a OR user.name:b) AND user.name:c") == And((Or((a, b)), c))


def test_operators_are_case_insensitive_and_need_a_boundary() -> None:
    assert parse("a or b") == Or((Term(None, "a"), Term(None, "b")))
    assert parse("android") == Term(None, "android")
    assert parse("NOT(a)") == Not(Term(None, "a"))


def test_field_group_distributes_the_field() -> None:
    assert parse('user.name:(alice OR "bob smith" OR NOT eve)') == Or(
        (
            Term("user.name", "alice"),
            Phrase("user.name", "bob smith"),
            Not(Term("user.name", "eve")),
        )
    )


def test_values_may_hold_colons_and_escapes() -> None:
    assert parse("url.path:/a:b") == Term("url.path", "/a:b")
    assert parse(r"user.name:a\*b") == Term("user.name", "a*b")
    assert parse(r"free\:text") == Term(None, "free:text")


def test_ranges_and_comparisons() -> None:
    assert parse("http.response.status_code:[400 TO 499]") == Range(
        "http.response.status_code", "400", "499"
    )
    assert parse("event.duration:{10 TO *]") == Range("event.duration", "10", None, False, True)
    assert parse("http.response.status_code>=500") == Range(
        "http.response.status_code", "500", None
    )
    assert parse("event.duration<7") == Range("event.duration", None, "7", True, False)
    assert parse('@timestamp>="2026-11-26T08:00:00+08:00"').field == "@timestamp"


def test_wildcards_and_exists() -> None:
    assert parse("user.name:ad?in*") == Wildcard("user.name", "ad?in*")
    assert parse("trace.id:*") == Exists("trace.id")
    assert parse("deni*") == Wildcard(None, "deni*")


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("user.name:", 10, "Expected a value"),
        ("(event.action:login", 19, "Expected ')'"),
        ("nosuch.field:x", 0, "Unknown or non-searchable field"),
        ("personal.phone:138*", 0, "Unknown or non-searchable field"),
        ("user.name:*min", 10, "leading wildcard"),
        ("event.duration:abc", 15, "whole number"),
        ("source.ip:300.1.1.1", 10, "IP address"),
        ("@timestamp>2026-13-45", 11, "valid date"),
        ('"unterminated', 0, "Unterminated"),
        ("a AND", 5, "Expected a search term"),
        ("a )", 2, "Unexpected"),
        ("event.reason:[a TO b]", 14, "Ranges are not allowed"),
        ("event.reason:a*b", 13, "trailing '*'"),
        ("source.ip:10.*", 10, "not allowed on ip"),
        ("user.name=x", 9, "Use ':'"),
        ("user.name:[a b]", 13, "Expected 'TO'"),
        ("OR", 0, "operator"),
        ("---", 0, "words of letters"),
        ("404", 0, "search numbers and addresses by field"),
    ],
)
def test_errors_carry_the_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.position == position, info.value.detail
    assert fragment in info.value.detail
    assert info.value.problem_extra == {"position": position}


def test_limits() -> None:
    with pytest.raises(ParseError, match="longer than"):
        parse("a" * 3000)
    with pytest.raises(ParseError, match="deeper than"):
        parse("(" * 40 + "a" + ")" * 40)
    with pytest.raises(ParseError, match="clauses"):
        parse(" ".join(["a"] * 80))
    with pytest.raises(ParseError, match="wildcard terms"):
        parse("a* b* c* d* e*")
    with pytest.raises(ParseError, match="wildcards in one term"):
        parse("user.name:a*b*c*d*e*f")
    assert parse("user.name:*min", limits=Limits(allow_leading_wildcard=True)) == Wildcard(
        "user.name", "*min"
    )


# ------------------------------------------------------------------------- property tests

_KEYWORD_FIELDS = ["user.name", "event.action", "url.path", "event.category"]
_printable = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
)


def _has_word(text: str) -> bool:
    from audit.search.query.values import words

    return bool(words(text))


def _pattern() -> st.SearchStrategy[str]:
    piece = st.one_of(
        st.sampled_from(["*", "?"]),
        st.text(
            st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=3
        ).map(lambda s: "".join("\\" + c if c in "*?\\" else c for c in s)),
    )
    return st.lists(piece, min_size=1, max_size=3).map(lambda parts: "a" + "".join(parts) + "*")


_leaf = st.one_of(
    st.builds(Term, st.sampled_from(_KEYWORD_FIELDS), _printable),
    st.builds(Term, st.none(), _printable.filter(_has_word)),
    st.builds(Phrase, st.sampled_from(_KEYWORD_FIELDS), st.text(max_size=10)),
    st.builds(Phrase, st.none(), _printable.filter(_has_word)),
    st.builds(Wildcard, st.sampled_from(_KEYWORD_FIELDS), _pattern()),
    st.builds(Exists, st.sampled_from(_KEYWORD_FIELDS)),
    st.builds(
        Range,
        st.sampled_from(_KEYWORD_FIELDS),
        st.none() | st.text(max_size=6),
        st.none() | st.text(max_size=6),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        Range,
        st.just("http.response.status_code"),
        st.none() | st.integers(-(2**40), 2**40).map(str),
        st.none() | st.integers(0, 999).map(str),
        st.booleans(),
        st.booleans(),
    ),
)
_tree = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)
_ROUND_TRIP_LIMITS = Limits(max_wildcard_terms=100, max_wildcard_chars=100, max_depth=64)


@settings(max_examples=400)
@given(_tree)
def test_round_trip(node: object) -> None:
    text = to_text(node)  # type: ignore[arg-type]
    assert parse(text, limits=_ROUND_TRIP_LIMITS) == node, text


_alphabet = st.sampled_from(
    [*'()[]{}"\\:<>=*? \t', "AND", "OR", "NOT", "TO", "user.name", "@timestamp", "x", "é", "日"]
)


@settings(max_examples=1500)
@given(st.one_of(st.text(max_size=60), st.lists(_alphabet, max_size=25).map("".join)))
def test_fuzz_only_parse_errors(text: str) -> None:
    try:
        node = parse(text)
    except ParseError as exc:
        position = exc.position
    else:
        assert parse(to_text(node)) == node
        return
    assert 0 <= position <= len(text)
