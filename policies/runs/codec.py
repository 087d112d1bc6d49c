"""Runs and waivers to and from JSON-ready dicts (the stored form and the JSON report's body)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from policies.model import (
    CheckResult,
    ControlResult,
    Finding,
    Run,
    SignerCertificate,
    SignOff,
    Status,
    Waiver,
    WaiverState,
)


def _t(value: datetime) -> str:
    return value.isoformat()


def finding_dict(f: Finding) -> dict[str, Any]:
    return {"setting": f.setting, "observed": f.observed, "expected": f.expected, "ok": f.ok,
            "note": f.note}  # fmt: skip


def check_dict(c: CheckResult) -> dict[str, Any]:
    return {"check": c.check, "status": c.status.value, "reason": c.reason,
            "checked_at": _t(c.checked_at), "findings": [finding_dict(f) for f in c.findings]}  # fmt: skip


def result_dict(r: ControlResult) -> dict[str, Any]:
    return {"control_id": r.control_id, "status": r.status.value, "waiver_id": r.waiver_id,
            "waived": r.waived, "checks": [check_dict(c) for c in r.checks]}  # fmt: skip


def certificate_dict(c: SignerCertificate) -> dict[str, Any]:
    return {"subject": c.subject, "serial": c.serial, "issuer": c.issuer,
            "not_before": _t(c.not_before), "not_after": _t(c.not_after)}  # fmt: skip


def signoff_dict(s: SignOff) -> dict[str, Any]:
    return {"officer": s.officer, "comment": s.comment, "signed_at": _t(s.signed_at),
            "report_sha256": s.report_sha256, "public_key_pem": s.public_key_pem,
            "certificate": certificate_dict(s.certificate) if s.certificate else None}  # fmt: skip


def _certificate(d: dict[str, Any] | None) -> SignerCertificate | None:
    if not d:
        return None
    return SignerCertificate(d["subject"], d["serial"], d["issuer"],
                             datetime.fromisoformat(d["not_before"]),
                             datetime.fromisoformat(d["not_after"]))  # fmt: skip


def run_dict(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "started_at": _t(run.started_at),
        "finished_at": _t(run.finished_at),
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "counts": run.counts(),
        "results": [result_dict(r) for r in run.results],
        "signoff": signoff_dict(run.signoff) if run.signoff else None,
    }


def waiver_dict(w: Waiver) -> dict[str, Any]:
    return {"id": w.id, "control_id": w.control_id, "justification": w.justification,
            "state": w.state.value, "requested_by": w.requested_by,
            "requested_by_id": w.requested_by_id, "requested_at": _t(w.requested_at),
            "expires_at": _t(w.expires_at), "decided_by": w.decided_by,
            "decided_by_id": w.decided_by_id,
            "decided_at": _t(w.decided_at) if w.decided_at else None,
            "reason": w.reason, "legacy_approver": w.legacy_approver}  # fmt: skip


def _check(d: dict[str, Any]) -> CheckResult:
    return CheckResult(
        check=d["check"],
        status=Status(d["status"]),
        findings=tuple(
            Finding(f["setting"], f["observed"], f["expected"], f["ok"], f.get("note", ""))
            for f in d["findings"]
        ),
        reason=d["reason"],
        checked_at=datetime.fromisoformat(d["checked_at"]),
    )


def run_from_dict(d: dict[str, Any]) -> Run:
    results = tuple(
        ControlResult(r["control_id"], Status(r["status"]), tuple(_check(c) for c in r["checks"]),
                      r.get("waiver_id", ""))
        for r in d["results"]
    )  # fmt: skip
    s = d.get("signoff")
    signoff = (
        SignOff(s["officer"], s["comment"], datetime.fromisoformat(s["signed_at"]),
                s["report_sha256"], s["public_key_pem"], _certificate(s.get("certificate")))
        if s else None
    )  # fmt: skip
    return Run(
        id=d["id"],
        started_at=datetime.fromisoformat(d["started_at"]),
        finished_at=datetime.fromisoformat(d["finished_at"]),
        trigger=d["trigger"],
        requested_by=d["requested_by"],
        results=results,
        signoff=signoff,
    )


def waiver_from_dict(d: dict[str, Any]) -> Waiver:
    decided = d.get("decided_at")
    return Waiver(d["id"], d["control_id"], d["justification"], d["requested_by"],
                  datetime.fromisoformat(d["requested_at"]),
                  datetime.fromisoformat(d["expires_at"]), d.get("requested_by_id", ""),
                  WaiverState(d["state"]), d["decided_by"], d.get("decided_by_id", ""),
                  datetime.fromisoformat(decided) if decided else None, d["reason"],
                  d.get("legacy_approver", ""))  # fmt: skip
