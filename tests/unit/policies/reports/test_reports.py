"""Report rendering: escaping, determinism, the CJK font embedded in the PDF."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from policies.catalogue.load import load_catalogue
from policies.model import CheckResult, ControlResult, Finding, Run, Status, Waiver, WaiverState
from policies.reports import content as report
from policies.reports import html as report_html
from policies.reports import pdf as report_pdf
from policies.testing import T0


def _report(
    observed: object = "<script>alert(1)</script>", waiver: Waiver | None = None
) -> dict[str, object]:
    check = CheckResult("realm.brute_force", Status.FAIL,
                        (Finding("bruteForceProtected", observed, "true", False),),
                        "not met: bruteForceProtected", T0)  # fmt: skip
    run = Run("r1", T0, T0 + timedelta(seconds=2), "api", "wang",
              (ControlResult("L3-CES1-02", Status.FAIL, (check,), waiver.id if waiver else ""),))  # fmt: skip
    waivers = [waiver] if waiver else []
    return report.build(load_catalogue(), run, changes=[], trend={}, waivers=waivers)


#: Approved by a second officer an hour after it was requested.
APPROVED = Waiver("w1", "L3-CES1-02", "gateway locks accounts", "wang.requester",
                  T0 - timedelta(hours=2), T0 + timedelta(days=30), "sub-wang",
                  WaiverState.APPROVED, "zhao.approver", "sub-zhao", T0 - timedelta(hours=1))  # fmt: skip


def _pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "r.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"],
                         check=True, capture_output=True)  # fmt: skip
    return " ".join(out.stdout.decode("utf-8").split())


def test_a_waived_control_names_who_requested_and_who_approved(tmp_path: Path) -> None:
    data = _report(waiver=APPROVED)
    html = report_html.render(data).decode()
    for text in (_squash(html), _pdf_text(report_pdf.render(data), tmp_path)):
        assert "requested by wang.requester" in text
        assert "approved by zhao.approver" in text
    assert b'"approver"' not in report.to_json(data)  # no free-text approver left


def _squash(html: str) -> str:
    return " ".join(html.split())


def test_html_escapes_observed_values() -> None:
    html = report_html.render(_report()).decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "L3-CES1-02" in html


def test_json_is_stable_and_holds_evidence() -> None:
    first, second = report.to_json(_report(False)), report.to_json(_report(False))
    assert first == second
    assert b'"setting": "bruteForceProtected"' in first


def test_pdf_is_deterministic_and_embeds_a_cjk_font() -> None:
    pdf = report_pdf.render(_report())
    assert pdf.startswith(b"%PDF-")
    assert pdf == report_pdf.render(_report())
    assert b"/FontFile2" in pdf  # the TrueType subset is embedded, not referenced
    assert b"/ToUnicode" in pdf  # so the text layer maps back to Chinese
