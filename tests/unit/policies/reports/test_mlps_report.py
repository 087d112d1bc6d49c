# ruff: noqa: RUF001 - Chinese text takes Chinese (full-width) punctuation
"""The PDF as an MLPS assessment report (2025 template): cover, conclusion, rows, local times,
page numbers, signature block with the signer's certificate, evidence for people, metadata.

The PDF is read back with poppler's ``pdftotext`` and ``pdfinfo`` (Debian poppler-utils).
"""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crypto.pki import issue_certificate, make_root_ca, parse_name
from crypto.sm2 import PrivateKey
from policies.catalogue.load import load_catalogue
from policies.errors import SigningUnavailable
from policies.model import (
    Assessee,
    CheckResult,
    ControlResult,
    Finding,
    Run,
    SignOff,
    Status,
    Waiver,
    WaiverState,
)
from policies.reports import content as report
from policies.reports import html as report_html
from policies.reports import pdf as report_pdf
from policies.reports.assessment import ZONE
from policies.reports.signing import Sm2ReportSigner
from policies.runs import codec
from policies.testing import T0

WHO = Assessee("云南省一网通办安全保障平台", "云南省数据局", 3, "53000099001-26001")
CATALOGUE = load_catalogue()
#: Items with a "shall" (应) requirement, in catalogue order; 宜 items are left out.
SHALL = [c.id for c in CATALOGUE.controls() if not c.requirement.zh.startswith("宜")]


def _check(status: Status, observed: Any = True) -> CheckResult:
    ok = status is Status.PASS
    finding = Finding("bruteForceProtected", observed, "true", ok)
    return CheckResult("realm.brute_force", status, (finding,),
                       "" if ok else "not met: bruteForceProtected", T0)  # fmt: skip


def _run(passed: int, partial: int = 0, failed: int = 0, signoff: SignOff | None = None,
         waiver: str = "") -> Run:  # fmt: skip
    """``passed`` items pass, ``partial`` fail with one check passing, ``failed`` fail wholly
    (a 重大风险隐患), the rest have no result (不适用)."""
    ids = iter(SHALL)
    results = [ControlResult(next(ids), Status.PASS, (_check(Status.PASS),)) for _ in range(passed)]
    results += [ControlResult(next(ids), Status.FAIL, (_check(Status.PASS), _check(Status.FAIL)))
                for _ in range(partial)]  # fmt: skip
    results += [ControlResult(next(ids), Status.FAIL, (_check(Status.FAIL),), waiver)
                for _ in range(failed)]  # fmt: skip
    return Run("0123456789abcdef", T0, T0 + timedelta(seconds=3), "api", "wang", tuple(results),
               signoff)  # fmt: skip


def _data(run: Run, waivers: list[Waiver] | None = None) -> dict[str, Any]:
    return report.build(CATALOGUE, run, changes=[], trend={}, waivers=waivers or [], assessee=WHO)


def _read(pdf: bytes, tmp: Path) -> tuple[str, dict[str, str]]:
    """The text layer with all whitespace removed, and pdfinfo's fields."""
    path = tmp / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True).stdout.decode("utf-8")  # fmt: skip
    info = subprocess.run(["pdfinfo", "-enc", "UTF-8", str(path)], check=True,
                          capture_output=True).stdout.decode("utf-8")  # fmt: skip
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return "".join(text.split()), {k.strip(): v.strip() for k, v in fields.items()}


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    ("items", "verdict", "rate"),
    [
        ((19, 1, 0), "符合", "95.0%"),
        ((3, 1, 0), "基本符合", "75.0%"),
        ((1, 1, 0), "不符合", "50.0%"),
        ((19, 0, 1), "基本符合", "95.0%"),  # above 90 % but a 重大风险隐患
    ],
)
def test_the_conclusion_follows_the_rate_and_the_major_risks(
    items: tuple[int, int, int], verdict: str, rate: str, tmp_path: Path
) -> None:
    """``items``: passed, partly met, wholly failed (the rest not applicable)."""
    failed = items[2]
    data = _data(_run(*items))
    assert data["assessment"]["conclusion"] == verdict
    assert data["assessment"]["major_risks"] == failed
    text, info = _read(report_pdf.render(data), tmp_path)
    assert f"等级测评结论{verdict}" in text
    assert f"符合率{rate}" in text
    assert f"重大风险隐患数量{failed}" in text
    assert verdict in info["Subject"]
    html = _squash(report_html.render(data).decode())
    assert f"<th>等级测评结论</th><td><b>{verdict}</b>" in html


def test_the_cover_names_the_system_and_every_page_is_numbered(tmp_path: Path) -> None:
    run = _run(3, 1)
    manual = next(c.id for c in CATALOGUE.controls() if c.manual and not c.checks)
    run = Run(run.id, run.started_at, run.finished_at, run.trigger, run.requested_by,
              (*run.results, ControlResult(manual, Status.MANUAL, ())))  # fmt: skip
    text, info = _read(report_pdf.render(_data(run)), tmp_path)
    assert "等级测评结论基本符合（暂定）说明1项待人工核查" in text  # 3 of 4 judged: 75 %
    cover = text.split("一、等级测评结论")[0]
    for field in ("网络安全等级保护测评报告", "被测对象云南省一网通办安全保障平台",
                  "被测单位云南省数据局", "安全保护等级第三级", "备案编号53000099001-26001",
                  "报告编号ANBAO-53000099001-26001-20261126-01234567",
                  "合规负责人（待签署）", "报告日期2026年11月26日", "测评期间"):  # fmt: skip
        assert field in cover, field
    pages = int(info["Pages"])
    assert pages > 3
    assert "第1页共" in cover
    assert re.findall(r"第(\d+)页共(\d+)页", text) == [(str(n), str(pages))
                                                     for n in range(1, pages + 1)]  # fmt: skip


def test_times_are_beijing_time_with_the_zone_and_no_microseconds(tmp_path: Path) -> None:
    waiver = Waiver("w1", SHALL[0], "网关已锁定账户", "wang.requester",
                    T0 - timedelta(hours=2) + timedelta(microseconds=123456), T0 + timedelta(days=30),
                    "sub-wang", WaiverState.APPROVED, "zhao.approver", "sub-zhao",
                    T0 - timedelta(hours=1))  # fmt: skip
    run = _run(0, failed=1, waiver="w1")
    data = _data(run, [waiver])
    beijing = f"{T0.astimezone(ZONE):%Y-%m-%d%H:%M}(UTC+8)"
    pdf_text, _ = _read(report_pdf.render(data), tmp_path)
    html = _squash(report_html.render(data).decode())
    for text in (pdf_text, html):
        assert beijing in text
        assert "2026-11-2614:00(UTC+8)" in text  # the waiver's request, two hours earlier
        assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+", text)  # no microseconds
        assert "+00:00" not in text
        assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}", text)  # no raw ISO times
        assert "requestedbywang.requester" in text
        assert "approvedbyzhao.approver" in text
    assert "重大风险隐患数量1（1个已豁免）" in pdf_text
    assert "不符合（已豁免）" in pdf_text


def test_evidence_is_written_for_people_not_as_python_values(tmp_path: Path) -> None:
    observed = {"enabled": True, "locked": False, "users": ["alice", "bob"], "limit": None}
    check = CheckResult("realm.brute_force", Status.FAIL,
                        (Finding("bruteForceProtected", observed, "includes ['a', 'b']", False),
                         Finding("failureFactor", False, "true", False)),
                        "not met: bruteForceProtected, failureFactor", T0)  # fmt: skip
    run = Run("r1", T0, T0, "api", "wang", (ControlResult(SHALL[1], Status.FAIL, (check,)),))
    data = _data(run)
    pdf_text, _ = _read(report_pdf.render(data), tmp_path)
    html = report_html.render(data).decode()
    for text in (pdf_text, _squash(html)):
        for repr_ in ("{'", "['", "True", "False", "None"):
            assert repr_ not in text, repr_
        assert "暴力破解防护（bruteForceProtected）" in text
        assert "enabled:是" in text
        assert "locked:否" in text
        assert "·alice" in text
        assert "limit:无" in text
        assert "要求：includesa、b" in text
        assert "未满足：暴力破解防护、允许连续失败次数" in text


def test_per_item_rows_carry_category_control_point_item_record_and_conformity(
    tmp_path: Path,
) -> None:
    text, _ = _read(report_pdf.render(_data(_run(1, 1, 1))), tmp_path)
    rows = text.split("二、单项测评结果")[1]
    assert rows.startswith("GB/T22239-2019")
    assert "安全类控制点测评项结果记录符合程度" in rows
    assert "安全计算环境身份鉴别L3-CES1-01" in rows
    assert "自动核查1项：符合1，不符合0。" in rows
    for word in ("符合", "部分符合", "不符合", "不适用"):
        assert word in rows


def _signer(tmp_path: Path) -> Sm2ReportSigner:
    ca_key, key = PrivateKey.generate(), PrivateKey.generate()
    ca = make_root_ca(ca_key, parse_name("/C=CN/O=测试/CN=报告签署 CA"), now=T0, days=3650,
                      serial=0xCA)  # fmt: skip
    cert = issue_certificate(ca, ca_key, subject=parse_name("/C=CN/O=云南省数据局/CN=孙合"),
                             public_key=key.public_key().to_bytes(), now=T0, days=365,
                             serial=0x1A2B3C)  # fmt: skip
    (tmp_path / "officer.pem").write_bytes(cert.pem())
    return Sm2ReportSigner(key, cert)


def test_the_signature_block_names_the_signers_certificate(tmp_path: Path) -> None:
    signer = _signer(tmp_path)
    signoff = SignOff("sun.he", "已复核", T0 + timedelta(hours=2), "", signer.public_key_pem(),
                      signer.certificate())  # fmt: skip
    run = _run(19, 1, signoff=signoff)
    assert codec.run_from_dict(codec.run_dict(run)) == run  # the certificate is stored
    text, info = _read(report_pdf.render(_data(run)), tmp_path)
    block = text.split("三、合规负责人签署")[1]
    for field in ("合规负责人sun.he", "签署时间2026-11-2618:00(UTC+8)", "复核意见已复核",
                  "签名证书主题/C=CN/O=云南省数据局/CN=孙合", "证书序列号1A2B3C",
                  "证书颁发者/C=CN/O=测试/CN=报告签署CA", "签名公钥指纹SHA-256"):  # fmt: skip
        assert field in block, field
    assert "合规负责人sun.he" in text.split("一、等级测评结论")[0]  # the cover names the signer
    assert "草稿" not in text
    assert info["Title"].startswith("网络安全等级保护测评报告 云南省一网通办安全保障平台")
    assert info["Author"] == "云南省数据局"
    assert info["Creator"] == "Anbao"
    assert "等级保护" in info["Keywords"]


def test_a_certificate_of_another_key_is_refused(tmp_path: Path) -> None:
    cert = _signer(tmp_path)
    other = PrivateKey.generate()
    from crypto.pki import Certificate

    with pytest.raises(SigningUnavailable, match="signing_cert_file"):
        Sm2ReportSigner(other, Certificate.load((tmp_path / "officer.pem").read_bytes()))
    assert cert.certificate() is not None
