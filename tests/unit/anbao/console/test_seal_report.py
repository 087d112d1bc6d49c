"""The verify page's report in Chinese: every sentence the verifier really writes is known.

Reports come from the e-seal format's own verifier over a signed OFD (good, tampered, revoked,
no trust), so a sentence changed there without its pattern here shows up as English text.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from anbao.console import i18n
from anbao.console.pages import seal_report
from crypto.pki import RevocationReason, RevokedCertificate, build_crl
from crypto.seals.format import Options, Trust, sign_ofd, verify_any
from crypto.seals.format.testing import SampleSeal, make_sample_seal, minimal_ofd

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
_DOMAINS, _MERGED = i18n.load_domains(), i18n.load_catalogues()
#: What the seal pages read: their own catalogue over the frame's.
CATALOGUES = {
    locale: i18n.messages_for(_DOMAINS[locale], _MERGED[locale], "seals") for locale in i18n.LOCALES
}
ZH = i18n.Translator("zh-CN", CATALOGUES["zh-CN"], "Asia/Shanghai")
EN = i18n.Translator("en", CATALOGUES["en"], "Asia/Shanghai")


@pytest.fixture(scope="module")
def sample() -> SampleSeal:
    return make_sample_seal(NOW)


def _trust(sample: SampleSeal, revoked_at: datetime | None = None) -> Trust:
    revoked = ()
    if revoked_at is not None:
        revoked = (
            RevokedCertificate(
                sample.cert.serial_number, revoked_at, RevocationReason.KEY_COMPROMISE
            ),
        )
    pki = sample.pki
    crl = pki.crl(revoked=revoked, now=NOW, next_update=timedelta(days=30))
    root = build_crl(
        pki.root, pki.root_key, revoked=(), now=NOW, next_update=timedelta(days=30), crl_number=1
    )
    return Trust(roots=(pki.root,), intermediates=(pki.intermediate,), crls=(crl, root))


def _signed(sample: SampleSeal) -> bytes:
    return sign_ofd(
        minimal_ofd("安保"), seal=sample.seal, key=sample.key, cert=sample.cert, now=NOW
    )


def _tampered(ofd: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(ofd))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename.endswith("Content.xml"):
                content = content.replace("安保".encode(), "安危".encode())
            target.writestr(item, content)
    return out.getvalue()


def _report(data: bytes, trust: Trust) -> dict[str, Any]:
    return verify_any(data, Options(trust=trust, at=NOW + timedelta(days=1))).to_json()


def _english(view: seal_report.ReportView) -> list[str]:
    """Every text the view left in English."""
    texts = [p for c in view.checks for p in c.reason]
    for signature in view.signatures:
        texts += [signature.label, *(v for _, v in signature.facts)]
        texts += [p for c in signature.checks for p in c.reason]
    return [t.text for t in texts if t.lang]


def test_a_valid_signed_ofd_reads_wholly_in_chinese(sample: SampleSeal) -> None:
    report = _report(_signed(sample), _trust(sample))
    view = seal_report.report_view(report, ZH)
    assert view.status_text == "有效"
    assert view.tone == "ok"
    assert _english(view) == []
    names = [c.name for c in view.signatures[0].checks]
    assert "签章人证书撤销状态" in names
    assert "文档杂凑值" in names
    assert all(c.status_text in ("通过", "不适用") for c in view.signatures[0].checks)
    # times in the province's zone, with the zone shown
    assert "UTC+08:00" in view.verified_at


def test_a_tampered_ofd_names_the_failing_check_and_why(sample: SampleSeal) -> None:
    view = seal_report.report_view(_report(_tampered(_signed(sample)), _trust(sample)), ZH)
    assert view.status_text == "无效"
    (failed,) = view.failed()
    assert failed.name == "受保护文件"
    assert failed.status_text == "未通过"
    assert "被修改或缺失" in failed.reason[0].text
    assert _english(view) == []


def test_a_revoked_signer_and_no_trust_are_explained_in_chinese(sample: SampleSeal) -> None:
    revoked = seal_report.report_view(
        _report(_signed(sample), _trust(sample, revoked_at=NOW - timedelta(hours=1))), ZH
    )
    check = next(c for c in revoked.signatures[0].checks if c.code == "revocation")
    assert check.status_text == "未通过"
    assert any("早于签章时间" in p.text for p in check.reason)
    assert _english(revoked) == []
    untrusted = seal_report.report_view(_report(_signed(sample), Trust()), ZH)
    assert untrusted.status_text == "无法确定"
    assert _english(untrusted) == []


def test_a_bare_seal_reads_in_chinese(sample: SampleSeal) -> None:
    view = seal_report.report_view(_report(sample.seal.der, _trust(sample)), ZH)
    assert view.kind == "电子印章"
    assert _english(view) == []


def test_an_unknown_sentence_stays_in_english_and_is_marked() -> None:
    (text,) = seal_report.reason("a sentence the console does not know", ZH)
    assert text == seal_report.Text("a sentence the console does not know", "en")
    (same,) = seal_report.reason("a sentence the console does not know", EN)
    assert same.lang == ""


def test_every_msgid_has_a_chinese_translation_with_the_same_placeholders() -> None:
    msgids = [
        *(m for _, m in seal_report.SENTENCES),
        *seal_report.CHECK_NAMES.values(),
        *seal_report.STATUSES.values(),
        *seal_report.KINDS.values(),
        *seal_report.FACTS.values(),
        *seal_report.COVERAGE.values(),
    ]
    for msgid in msgids:
        assert msgid in CATALOGUES["zh-CN"], msgid
        placeholders = set(re.findall(r"%\((\w+)\)s", msgid))
        assert set(re.findall(r"%\((\w+)\)s", CATALOGUES["zh-CN"][msgid])) == placeholders
