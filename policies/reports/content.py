# ruff: noqa: RUF001 - Chinese text takes Chinese (full-width) punctuation
"""The report's content, laid out like an MLPS assessment report: cover, conclusion, then
安全类 -> 控制点 -> 测评项 per standard.

:func:`build` turns a run (plus its history, waivers and the assessed system) into one JSON-ready
dict; the HTML (:mod:`policies.reports.html`), PDF (:mod:`policies.reports.pdf`) and JSON reports
all render that same dict, so the three formats never disagree. Judgements (符合程度, 重大风险隐患,
conclusion) come from :mod:`policies.reports.assessment`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from policies.model import Assessee, Catalogue, Change, Run, Status, TrendPoint, Waiver
from policies.reports import assessment
from policies.reports.assessment import local_time
from policies.runs import codec

STATUS_ZH = {
    "pass": "符合",
    "fail": "不符合",
    "manual": "人工核查",
    "not_applicable": "不适用",
    "waived": "已豁免",
}
#: 2: a waiver names who requested and who approved it (four eyes), no free-text approver.
#: 3: MLPS report layout: ``cover``, ``assessment`` (conclusion), per item 安全类/控制点/符合程度.
REPORT_VERSION = 3
#: Cover facts when the settings name no system (a report still renders, visibly incomplete).
UNNAMED = Assessee("（未配置 compliance.system_name）", "（未配置 compliance.organisation）", 3, "")


def waiver_line(w: dict[str, Any]) -> str:
    """The waiver as the HTML and PDF reports print it: who requested, who approved, until."""
    decided = (f"批准人 approved by {w['decided_by']}（{local_time(w['decided_at'])}）"
               if w["state"] == "approved" else f"未批准 {w['state']}, not approved")  # fmt: skip
    legacy = (f"（旧记录审批人 legacy approver「{w['legacy_approver']}」，未核实 not verified）"
              if w["legacy_approver"] else "")  # fmt: skip
    return (f"豁免 Waiver {w['id']}：申请人 requested by {w['requested_by'] or '未知'}"
            f"（{local_time(w['requested_at'])}），{decided}{legacy}；有效期至 "
            f"{local_time(w['expires_at'])}；理由：{w['justification']}")  # fmt: skip


def _control_entry(
    control: Any, run: Run, trend: Sequence[TrendPoint], waivers: dict[str, Waiver]
) -> dict[str, Any]:
    result = run.result(control.id)
    status = result.status.value if result else Status.NOT_APPLICABLE.value
    waiver = waivers.get(result.waiver_id) if result and result.waived else None
    entry = {
        "id": control.id,
        "clause": control.clause,
        "title": {"zh": control.title.zh, "en": control.title.en},
        "requirement": {"zh": control.requirement.zh, "en": control.requirement.en},
        "status": status,
        "effective": "waived" if waiver else status,
        "status_zh": STATUS_ZH["waived" if waiver else status],
        "manual_attestation": control.manual,
        "evidence_kept": list(control.evidence),
        "remediation": {"zh": control.remediation.zh, "en": control.remediation.en},
        "checks": [codec.check_dict(c) for c in result.checks] if result else [],
        "waiver": codec.waiver_dict(waiver) if waiver else None,
        "waiver_line": waiver_line(codec.waiver_dict(waiver)) if waiver else "",
        "trend": [p.status.value for p in trend],
        "control_point": control_point(control.section),
    }
    entry["conformity"] = assessment.conformity(entry)
    entry["major_risk"] = assessment.is_major_risk(entry)
    return entry


def control_point(section: str) -> str:
    """控制点 from a catalogue section: ``8.1.4.1 身份鉴别 / Identity …`` gives ``身份鉴别``."""
    zh = section.split(" / ", maxsplit=1)[0].strip()
    head, _, rest = zh.partition(" ")
    return rest.strip() if rest and head.replace(".", "").isdigit() else zh


def build(
    catalogue: Catalogue,
    run: Run,
    *,
    changes: Sequence[Change],
    trend: dict[str, list[TrendPoint]],
    waivers: Sequence[Waiver],
    assessee: Assessee | None = None,
) -> dict[str, Any]:
    """The whole report as a dict (``report.json`` is exactly this, canonically serialised)."""
    by_id = {w.id: w for w in waivers}
    standards: list[dict[str, Any]] = []
    for std in catalogue.standards:
        sections: dict[str, list[dict[str, Any]]] = {}
        for control in std.controls:
            sections.setdefault(control.section, []).append(
                _control_entry(control, run, trend.get(control.id, []), by_id)
            )
        category = std.category or std.title
        standards.append({
            "standard": std.code,
            "title": {"zh": std.title.zh, "en": std.title.en},
            "category": {"zh": category.zh, "en": category.en},
            "sections": [{"section": k, "controls": v} for k, v in sections.items()],
        })  # fmt: skip
    items = [c for s in standards for sec in s["sections"] for c in sec["controls"]]
    return {
        "report_version": REPORT_VERSION,
        "cover": cover(assessee or UNNAMED, run),
        "assessment": assessment.summary(items),
        "run": {k: v for k, v in codec.run_dict(run).items() if k != "results"},
        "changes": [
            {"control_id": c.control_id, "before": c.before.value if c.before else None,
             "after": c.after.value}
            for c in changes
        ],
        "standards": standards,
    }  # fmt: skip


def cover(who: Assessee, run: Run) -> dict[str, Any]:
    """The cover's facts. The date is the sign-off's (the run's end before it), never today's,
    so the same run renders the same report; the period runs from the run's start to the
    sign-off (the officer's review is part of the assessment)."""
    end = run.signoff.signed_at if run.signoff else run.finished_at
    filing = who.filing_number.strip()
    number = "-".join(p for p in ("ANBAO", filing, f"{end.astimezone(assessment.ZONE):%Y%m%d}",
                                  run.id[:8].upper()) if p)  # fmt: skip
    return {
        "system_name": who.system_name,
        "organisation": who.organisation,
        "level": who.level,
        "level_zh": assessment.LEVEL_ZH.get(who.level, str(who.level)),
        "filing_number": filing or "（未备案）",
        "report_number": number,
        "officer": run.signoff.officer if run.signoff else "（待签署）",
        "period": f"{local_time(run.started_at)} 至 {local_time(end)}",
        "date": assessment.local_date(end),
    }


def to_json(report: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys, UTF-8, no insignificant whitespace variation."""
    return json.dumps(report, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")
