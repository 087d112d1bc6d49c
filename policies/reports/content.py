"""The report's content, laid out like an assessment workbook: standard -> section -> clause.

:func:`build` turns a run (plus its history and waivers) into one JSON-ready dict; the HTML
(:mod:`policies.reports.html`), PDF (:mod:`policies.reports.pdf`) and JSON reports all render that
same dict, so the three formats never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from policies.model import Catalogue, Change, Run, Status, TrendPoint, Waiver
from policies.runs import codec

STATUS_ZH = {
    "pass": "符合",
    "fail": "不符合",
    "manual": "人工核查",
    "not_applicable": "不适用",
    "waived": "已豁免",
}
#: 2: a waiver names who requested and who approved it (four eyes), no free-text approver.
REPORT_VERSION = 2


def waiver_line(w: dict[str, Any]) -> str:
    """The waiver as the HTML and PDF reports print it: who requested, who approved, until."""
    decided = (f"approved by {w['decided_by']} at {w['decided_at']}"
               if w["state"] == "approved" else f"{w['state']}, not approved")  # fmt: skip
    legacy = (f" (legacy approver {w['legacy_approver']!r}, not verified)"
              if w["legacy_approver"] else "")  # fmt: skip
    return (f"豁免 Waiver {w['id']}: requested by {w['requested_by'] or 'unknown'} at "
            f"{w['requested_at']}, {decided}{legacy}; until {w['expires_at']}: "
            f"{w['justification']}")  # fmt: skip


def _control_entry(
    control: Any, run: Run, trend: Sequence[TrendPoint], waivers: dict[str, Waiver]
) -> dict[str, Any]:
    result = run.result(control.id)
    status = result.status.value if result else Status.NOT_APPLICABLE.value
    waiver = waivers.get(result.waiver_id) if result and result.waived else None
    return {
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
    }


def build(
    catalogue: Catalogue,
    run: Run,
    *,
    changes: Sequence[Change],
    trend: dict[str, list[TrendPoint]],
    waivers: Sequence[Waiver],
) -> dict[str, Any]:
    """The whole report as a dict (``report.json`` is exactly this, canonically serialised)."""
    by_id = {w.id: w for w in waivers}
    standards = []
    for std in catalogue.standards:
        sections: dict[str, list[dict[str, Any]]] = {}
        for control in std.controls:
            sections.setdefault(control.section, []).append(
                _control_entry(control, run, trend.get(control.id, []), by_id)
            )
        standards.append({
            "standard": std.code,
            "title": {"zh": std.title.zh, "en": std.title.en},
            "sections": [{"section": k, "controls": v} for k, v in sections.items()],
        })  # fmt: skip
    return {
        "report_version": REPORT_VERSION,
        "run": {k: v for k, v in codec.run_dict(run).items() if k != "results"},
        "changes": [
            {"control_id": c.control_id, "before": c.before.value if c.before else None,
             "after": c.after.value}
            for c in changes
        ],
        "standards": standards,
    }  # fmt: skip


def to_json(report: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys, UTF-8, no insignificant whitespace variation."""
    return json.dumps(report, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")
