"""Compliance data as people read it: evidence without reprs, rates, the trend and its chart."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from anbao.console import i18n
from anbao.console.pages.compliance import present
from anbao.console.pages.compliance.reports import fingerprint

CATALOGUES = i18n.load_catalogues()


@pytest.fixture
def zh() -> i18n.Translator:
    return i18n.Translator("zh-CN", CATALOGUES["zh-CN"], "Asia/Shanghai")


@pytest.fixture
def en() -> i18n.Translator:
    return i18n.Translator("en", CATALOGUES["en"], "Asia/Shanghai")


def _flat(node: present.Node) -> str:
    if node.kind == "text":
        return node.text
    if node.kind == "list":
        return " | ".join(_flat(n) for n in node.items)
    return " | ".join(f"{label}: {_flat(n)}" for label, n in node.pairs)


def test_booleans_nothing_and_numbers_read_as_words_and_local_figures(
    zh: i18n.Translator, en: i18n.Translator
) -> None:
    assert present.scalar(True, zh) == "是"
    assert present.scalar(False, zh) == "否"
    assert present.scalar("true", zh) == "是"  # an expected value written as a word
    assert present.scalar(True, en) == "Yes"
    assert present.scalar(None, zh) == "—"
    assert present.scalar(1800, zh) == "1,800"


def test_a_time_is_local_with_its_zone_and_a_python_list_in_text_is_its_items(
    zh: i18n.Translator,
) -> None:
    assert present.scalar("2026-12-07T12:15:03+00:00", zh) == "2026-12-07 20:15:03 UTC+08:00"
    assert present.scalar("includes ['id', 'at']", zh) == "includes id, at"
    assert present.scalar("2026-12-07", zh) == "2026-12-07"  # a date alone is text


def test_objects_are_labelled_lines_lists_bullets_and_no_repr_remains(
    zh: i18n.Translator,
) -> None:
    value: dict[str, Any] = {
        "enabled": True,
        "roles": ["auditor", "seal-admin"],
        "lockout": {"seconds": 900, "permanent": False},
        "missing": [],
    }
    node = present.shape(value, zh)
    assert node.kind == "map"
    assert node.labels == ("enabled", "roles", "lockout", "missing")
    assert node.items[1].kind == "list"
    assert node.items[2].kind == "map"
    text = _flat(node)
    assert text == (
        "enabled: 是 | roles: auditor | seal-admin | lockout: seconds: 900 | permanent: 否 "
        "| missing: 无"
    )
    for mark in ("{'", "['", "True", "False", "None"):
        assert mark not in text
    assert present.shape(["only"], zh) == present.Node("text", "only")


def test_the_rate_is_passes_over_judged_items_a_waiver_does_not_meet_a_requirement() -> None:
    counts = {"pass": 6, "fail": 1, "waived": 1, "manual": 5, "not_applicable": 2}
    assert present.rate(counts) == pytest.approx(0.75)
    assert present.rate({"manual": 3}) is None
    assert present.rate_of(["pass", "pass", "fail", "manual"]) == pytest.approx(2 / 3)


def _report(trends: dict[str, list[str]]) -> dict[str, Any]:
    def control(cid: str) -> dict[str, Any]:
        return {"id": cid, "status": trends[cid][-1], "effective": trends[cid][-1],
                "trend": trends[cid]}  # fmt: skip

    return {
        "standards": [
            {"standard": "A", "title": {"zh": "甲", "en": "Alpha"},
             "sections": [{"section": "s1", "controls": [control("a1"), control("a2")]}]},
            {"standard": "B", "title": {"zh": "乙", "en": "Beta"},
             "sections": [{"section": "s2", "controls": [control("b1")]}]},
        ]
    }  # fmt: skip


def test_the_trend_aligns_each_controls_history_on_the_newest_run() -> None:
    # b1 joined the catalogue for the last run only; runs come newest first.
    report = _report({"a1": ["fail", "pass", "pass"], "a2": ["pass", "pass", "fail"],
                      "b1": ["pass"]})  # fmt: skip
    runs = [{"id": f"r{i}", "started_at": f"2026-12-0{i}T00:00:00+00:00"} for i in (3, 2, 1)]
    rows = present.trend(report, runs)
    assert [r.run_id for r in rows] == ["r1", "r2", "r3"]
    assert [r.rates["A"] for r in rows] == [0.5, 1.0, 0.5]
    assert [r.rates["B"] for r in rows] == [None, None, 1.0]
    found = present.frameworks(report)
    assert [f.name("zh-CN") for f in found] == ["甲", "乙"]
    assert found[0].rate() == 0.5


def test_the_chart_is_a_line_per_framework_in_percent_with_a_rich_text_tooltip(
    zh: i18n.Translator,
) -> None:
    report = _report({"a1": ["fail", "pass"], "a2": ["pass", "pass"], "b1": ["pass", "pass"]})
    runs = [{"id": "new", "started_at": "2026-12-02T00:00:00+00:00"},
            {"id": "old", "started_at": "2026-12-01T00:00:00+00:00"}]  # fmt: skip
    rows = present.trend(report, runs)
    option = present.chart_option(rows, present.frameworks(report), zh, "zh-CN")
    assert option["tooltip"]["renderMode"] == "richText"
    assert option["xAxis"]["data"] == ["2026-12-01 08:00 UTC+08:00", "2026-12-02 08:00 UTC+08:00"]
    assert [(s["type"], s["name"], s["data"]) for s in option["series"]] == [
        ("line", "甲", [50.0, 100.0]),
        ("line", "乙", [100.0, 100.0]),
    ]


def test_no_run_gives_no_trend() -> None:
    assert present.trend({}, []) == []


def test_a_key_fingerprint_is_the_sha256_of_its_der_in_pairs() -> None:
    der = b"\x30\x59" + bytes(89)
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.b64encode(der).decode()
        + "\n-----END PUBLIC KEY-----\n"
    )
    expected = hashlib.sha256(der).hexdigest().upper()
    assert fingerprint(pem).replace(":", "") == expected
    assert fingerprint("not a key!") == ""
