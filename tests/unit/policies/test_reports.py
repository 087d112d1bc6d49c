"""Report rendering: escaping, determinism, the CJK font embedded in the PDF."""

from __future__ import annotations

from datetime import timedelta

from policies import report, report_html, report_pdf
from policies.catalogue import load_catalogue
from policies.model import CheckResult, ControlResult, Finding, Run, Status
from policies.testing import T0


def _report(observed: object = "<script>alert(1)</script>") -> dict[str, object]:
    check = CheckResult("realm.brute_force", Status.FAIL,
                        (Finding("bruteForceProtected", observed, "true", False),),
                        "not met: bruteForceProtected", T0)  # fmt: skip
    run = Run("r1", T0, T0 + timedelta(seconds=2), "api", "wang",
              (ControlResult("L3-CES1-02", Status.FAIL, (check,)),))  # fmt: skip
    return report.build(load_catalogue(), run, changes=[], trend={}, waivers=[])


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
