# ruff: noqa: RUF001 - Chinese text takes Chinese (full-width) punctuation
"""The report's judgements: rate, conclusion bounds, 重大风险隐患, local times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies.reports import assessment as a


@pytest.mark.parametrize(
    ("rate", "majors", "verdict"),
    [(0.95, 0, "符合"), (0.9, 0, "基本符合"), (0.95, 1, "基本符合"), (0.6, 0, "基本符合"),
     (0.599, 0, "不符合"), (None, 0, "不符合")],
)  # fmt: skip
def test_conclusion_bounds(rate: float | None, majors: int, verdict: str) -> None:
    assert a.conclusion(rate, majors) == verdict


def test_rate_leaves_out_not_applicable_items_only() -> None:
    counts = {a.CONFORM: 3, a.PARTIAL: 1, a.NONCONFORM: 0, a.NOT_APPLICABLE: 10, a.PENDING: 0}
    assert a.compliance_rate(counts) == 0.75
    assert a.compliance_rate({a.NOT_APPLICABLE: 4}) is None
    assert a.compliance_rate(counts | {a.PENDING: 4}) == 0.75  # not judged yet: left out
    assert a.compliance_rate({a.PENDING: 2, a.NOT_APPLICABLE: 1}) is None


def _item(effective: str, checks: list[str], requirement: str = "应启用…") -> dict[str, object]:
    return {"effective": effective, "checks": [{"status": s} for s in checks],
            "requirement": {"zh": requirement}}  # fmt: skip


def test_major_risks_are_wholly_unmet_shall_items_waived_or_not() -> None:
    assert a.is_major_risk(_item("fail", ["fail"]))
    assert a.is_major_risk(_item("waived", ["fail", "fail"]))
    assert not a.is_major_risk(_item("fail", ["pass", "fail"]))  # 部分符合
    assert not a.is_major_risk(_item("fail", ["fail"], "宜采用密码技术…"))  # a "should"
    assert not a.is_major_risk(_item("manual", []))
    assert a.major_risk_text(3, 1) == "3（1个已豁免）"
    assert a.major_risk_text(2, 0) == "2"


def test_local_time_is_beijing_time_to_the_minute() -> None:
    moment = datetime(2026, 12, 7, 12, 15, 42, 123456, tzinfo=UTC)
    assert a.local_time(moment) == "2026-12-07 20:15 (UTC+8)"
    assert a.local_time(moment.isoformat()) == "2026-12-07 20:15 (UTC+8)"
    assert a.local_date(datetime(2026, 12, 7, 17, 0, tzinfo=UTC)) == "2026年12月08日"


def test_items_awaiting_attestation_make_the_conclusion_provisional() -> None:
    items = [{"id": "a", "conformity": a.CONFORM, "major_risk": False, "effective": "pass"},
             {"id": "b", "conformity": a.PENDING, "major_risk": False, "effective": "manual"}]  # fmt: skip
    summary = a.summary(items)
    assert (summary["rate"], summary["conclusion"], summary["provisional"]) == (1.0, "符合", True)
    assert summary["note"].startswith("1 项待人工核查")
    assert not a.summary(items[:1])["provisional"]
