# ruff: noqa: RUF001, RUF002 - Chinese text takes Chinese (full-width) punctuation
"""The MLPS assessment report's judgements: 符合程度 per item, the compliance rate, 重大风险隐患,
the overall conclusion, and local times.

One module so the JSON, HTML and PDF reports judge alike, and so each rule that is Anbao's reading
(not the template's) sits in one documented function. Source of the template facts: the 2025
MLPS test report template (等级测评报告模版 2025版), per 公网安〔2025〕1846号 Q&A nos. 17–22 as
summarised in ``STANDARDS.md`` ("MLPS test report template").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

#: The province's reports are read in Beijing time; times carry the zone so none is ambiguous.
ZONE = ZoneInfo("Asia/Shanghai")
ZONE_LABEL = "UTC+8"

#: 符合程度 of the template; ``PENDING`` marks an item only a person can judge (manual attestation).
CONFORM, PARTIAL, NONCONFORM, NOT_APPLICABLE = "符合", "部分符合", "不符合", "不适用"
PENDING = "待人工核查"
CONFORMITY_ORDER = (CONFORM, PARTIAL, NONCONFORM, NOT_APPLICABLE, PENDING)

#: Overall conclusions of the 2025 template (1846号 Q&A no. 20).
PASS, BASIC, FAIL = "符合", "基本符合", "不符合"
#: Rate bounds of the conclusions (符合 above the first, 不符合 below the second).
ABOVE_FOR_PASS, BELOW_FOR_FAIL = 0.9, 0.6
LEVEL_ZH = {1: "第一级", 2: "第二级", 3: "第三级", 4: "第四级", 5: "第五级"}


def local_time(value: str | datetime | None) -> str:
    """``2026-12-07 20:15 (UTC+8)``: Beijing time to the minute, zone shown, no microseconds."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.astimezone(ZONE):%Y-%m-%d %H:%M} ({ZONE_LABEL})"


def local_date(value: str | datetime) -> str:
    """``2026年12月07日`` in Beijing time (the cover's date)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.astimezone(ZONE):%Y年%m月%d日}"


def conformity(control: Mapping[str, Any]) -> str:
    """符合程度 of one item from its effective status (a waived failure stays a failure: a
    waiver accepts the risk, it does not meet the requirement). A failing item some of whose
    automated checks pass is 部分符合; an item waiting for a person's attestation is ``PENDING``."""
    effective = control["effective"]
    if effective == "pass":
        return CONFORM
    if effective == "not_applicable":
        return NOT_APPLICABLE
    if effective == "manual":
        return PENDING
    passed = any(ch["status"] == "pass" for ch in control["checks"])
    return PARTIAL if passed else NONCONFORM


def is_major_risk(control: Mapping[str, Any]) -> bool:
    """Whether an item counts as a 重大风险隐患 (Anbao's rule, not the template's).

    The template judges them by 相关性, 严重性 and 高发性 against the high-risk guide
    (1846号 Q&A nos. 17–19), which a run cannot apply. From the run's data, Anbao counts an item
    whose requirement is mandatory ("应…"/"shall"; a "宜…"/"should" item never counts) and wholly
    unmet (符合程度 不符合: every automated check failed, or none could pass) — severe and relevant.
    A waived item still counts (the risk is accepted, not removed) and is shown as waived.
    """
    if conformity(control) != NONCONFORM:
        return False
    return not control["requirement"]["zh"].lstrip().startswith("宜")


def compliance_rate(counts: Mapping[str, int]) -> float | None:
    """符合率 = 符合项 ÷ (all items − 不适用), None when no item was judged.

    The template does not publish the formula (STANDARDS.md marks it unverified); this is a
    secondary source's guess, kept here alone so a published rule replaces one function.
    部分符合 items count against the rate. Items still waiting for a person's attestation
    (``PENDING``) are not judged yet, so "all items" means the judged ones: counting them as
    failures would keep a platform whose every automated check passes from ever reaching 符合.
    The report marks such a conclusion provisional (:func:`summary`, ``provisional``).
    """
    judged = sum(counts.values()) - counts.get(NOT_APPLICABLE, 0) - counts.get(PENDING, 0)
    return counts.get(CONFORM, 0) / judged if judged else None


def conclusion(rate: float | None, major_risks: int) -> str:
    """符合 above 90 % with no 重大风险隐患; 基本符合 from 60 % to 90 %, or above 90 % with a
    重大风险隐患 (the template leaves this case open; "probably 基本符合", STANDARDS.md); 不符合
    below 60 % (1846号 Q&A no. 20). No assessable item gives 不符合: nothing was shown to hold."""
    if rate is None or rate < BELOW_FOR_FAIL:
        return FAIL
    if rate > ABOVE_FOR_PASS and major_risks == 0:
        return PASS
    return BASIC


def major_risk_text(total: int, waived: int) -> str:
    """The 重大风险隐患数量 field, counted before remediation (Q&A no. 22): ``3（1个已豁免）``."""
    return f"{total}（{waived}个已豁免）" if waived else str(total)


def summary(controls: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The conclusion table's figures for a report's item entries."""
    items = list(controls)
    counts = dict.fromkeys(CONFORMITY_ORDER, 0)
    for c in items:
        counts[c["conformity"]] += 1
    majors = [c for c in items if c["major_risk"]]
    waived = sum(1 for c in majors if c["effective"] == "waived")
    rate = compliance_rate(counts)
    return {
        "counts": counts,
        "rate": rate,
        "rate_text": "—" if rate is None else f"{rate * 100:.1f}%",
        "conclusion": conclusion(rate, len(majors)),
        "major_risks": len(majors),
        "major_risks_waived": waived,
        "major_risks_text": major_risk_text(len(majors), waived),
        "major_risk_items": [c["id"] for c in majors],
        "provisional": counts[PENDING] > 0,
        "note": (
            f"{counts[PENDING]} 项待人工核查，不计入符合率；结论为暂定，人工核查完成后确认。"
            if counts[PENDING]
            else ""
        ),
    }
