"""The Alerts pages' form rules: filters in and out of links, typed times, triage bodies."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from anbao.console import i18n
from anbao.console.i18n import Translator
from anbao.console.pages.alerts.forms import (
    DEFAULT_STATUSES,
    LABELS,
    PAGE_SIZE,
    AlertQuery,
    FormError,
    alert_path,
    audit_search_link,
    bulk_change,
    event_query,
    labeller,
    parse_query,
    triage_change,
)

TR = Translator("zh-CN", {}, "Asia/Shanghai")


def test_the_first_visit_shows_what_needs_someone() -> None:
    assert parse_query({}).statuses == DEFAULT_STATUSES
    assert parse_query({"filtered": "1"}).statuses == ()


def test_checkboxes_and_comma_lists_are_read_alike_and_unknown_values_dropped() -> None:
    form = parse_query(
        {"filtered": "1", "status_closed": "1", "severity_high": "1", "severity_bogus": "1"}
    )
    link = parse_query({"filtered": "1", "status": "closed", "severity": "high,bogus"})
    assert form == link
    assert form.statuses == ("closed",)
    assert form.severities == ("high",)


def test_a_link_round_trips_with_one_value_per_name() -> None:
    query = AlertQuery(
        statuses=("open", "closed"),
        severities=("critical",),
        rule="r-1",
        entity="user.name=张三",
        since="2026-12-07T08:00",
        offset=PAGE_SIZE,
    )
    pairs = parse_qs(urlsplit(query.link()).query)
    assert all(len(v) == 1 for v in pairs.values())
    assert parse_query({k: v[0] for k, v in pairs.items()}) == query


def test_offsets_are_whole_pages_within_the_api_bound() -> None:
    assert parse_query({"offset": "73"}).offset == PAGE_SIZE
    assert parse_query({"offset": "99999999"}).offset == 10_000
    assert parse_query({"offset": "-5"}).offset == 0
    assert parse_query({"offset": "²"}).offset == 0


def test_typed_times_are_the_consoles_zone_and_empty_filters_are_left_out() -> None:
    params = AlertQuery(since="2026-12-07T20:15").api_params(TR)
    assert params == {
        "status": "open,acknowledged",
        "since": "2026-12-07T20:15:00+08:00",
        "limit": PAGE_SIZE,
        "offset": 0,
    }
    with pytest.raises(FormError):
        AlertQuery(until="yesterday").api_params(TR)


def test_bulk_operations_need_ticks_and_what_each_one_asks() -> None:
    assert bulk_change("acknowledge", "", "", 2) == {"status": "acknowledged"}
    assert bulk_change("close", "benign", "", 1) == {"status": "closed", "reason": "benign"}
    assert bulk_change("assign", "", " demo-analyst ", 1) == {"assignee": "demo-analyst"}
    for op, reason, assignee, ticked in (
        ("acknowledge", "", "", 0),
        ("close", "", "", 1),
        ("assign", "", "  ", 1),
        ("delete", "", "", 1),
    ):
        with pytest.raises(FormError):
            bulk_change(op, reason, assignee, ticked)


def test_triage_closing_takes_a_reason_and_other_changes_none() -> None:
    assert triage_change("open", "benign") == {"status": "open"}
    assert triage_change("closed", "duplicate") == {"status": "closed", "reason": "duplicate"}
    with pytest.raises(FormError):
        triage_change("closed", "")
    with pytest.raises(FormError):
        triage_change("deleted", "")


def test_ids_stay_one_segment_and_evidence_queries_are_quoted() -> None:
    assert alert_path("a/../b", "notes") == "/siem/alerts/a%2F..%2Fb/notes"
    assert event_query('x"y\\z') == 'event.id:"x\\"y\\\\z"'
    link = audit_search_link('event.id:"e1"', "2026-12-07T00:00:00.000Z")
    assert parse_qs(urlsplit(link).query) == {
        "q": ['event.id:"e1"'],
        "from": ["2026-12-07T00:00:00.000Z"],
    }


def test_every_value_word_has_a_chinese_translation_and_unknown_values_show_as_they_are() -> None:
    chinese = i18n.load_catalogues()["zh-CN"]
    missing = [w for words in LABELS.values() for w in words.values() if w not in chinese]
    assert not missing
    label = labeller(Translator("zh-CN", chinese, "Asia/Shanghai"))
    assert label("status", "acknowledged") == "已确认"
    assert label("state", "someday") == "someday"
