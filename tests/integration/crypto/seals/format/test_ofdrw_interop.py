"""Interop with ofdrw both ways: ofdrw verifies Anbao's OFD signatures; Anbao fully verifies
seals and OFD signatures made by ofdrw (with certificates from Anbao's PKI)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crypto import keys
from crypto.pki import build_crl
from crypto.seals.format import (
    MakerCoverage,
    Options,
    SigningRefused,
    Trust,
    decode_seal,
    sign_ofd,
    verify_ofd,
    verify_seal,
)
from crypto.seals.format.package import read_package, write_package
from crypto.seals.format.testing import make_sample_seal, minimal_ofd, tiny_png


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    now = datetime.now(UTC).replace(microsecond=0)
    sample = make_sample_seal(now - timedelta(hours=2))
    d = tmp_path_factory.mktemp("ofdrw")
    (d / "maker.key").write_bytes(keys.dump_private_key(sample.maker_key))
    (d / "maker.pem").write_bytes(sample.maker.pem())
    (d / "user.key").write_bytes(keys.dump_private_key(sample.key))
    (d / "user.pem").write_bytes(sample.cert.pem())
    (d / "pic.png").write_bytes(tiny_png(32, 32))
    return sample, d, now


def _opts(sample, now):
    later = now + timedelta(minutes=30)
    crls = (
        sample.pki.crl(now=later, next_update=timedelta(days=7)),
        build_crl(
            sample.pki.root,
            sample.pki.root_key,
            revoked=(),
            now=later,
            next_update=timedelta(days=7),
            crl_number=1,
        ),
    )
    trust = Trust(roots=(sample.pki.root,), intermediates=(sample.pki.intermediate,), crls=crls)
    return Options(trust=trust, at=later + timedelta(minutes=1))


def _ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_ofdrw_verifies_anbao_signatures(ofdrw, env, tmp_path):
    sample, _, now = env
    once = sign_ofd(minimal_ofd(), seal=sample.seal, key=sample.key, cert=sample.cert, now=now)
    twice = sign_ofd(
        once, seal=sample.seal, key=sample.key, cert=sample.cert, now=now + timedelta(seconds=1)
    )
    (tmp_path / "a.ofd").write_bytes(twice)
    assert _ok(ofdrw("verify", tmp_path / "a.ofd")).stdout.strip() == "VALID"
    # what ofdrw accepted carries a seal of the default reading
    covers = verify_seal(sample.seal.der, _opts(sample, now)).signatures[0].facts
    assert covers["maker_signature_covers"] == MakerCoverage.SEAL_INFO
    # the peer really checks: a changed page fails in ofdrw too
    entries = read_package(twice)
    entries["Doc_0/Pages/Page_0/Content.xml"] += b" "
    (tmp_path / "bad.ofd").write_bytes(write_package(entries))
    bad = ofdrw("verify", tmp_path / "bad.ofd")
    assert bad.returncode == 1
    assert "INVALID" in bad.stdout


def test_anbao_fully_verifies_ofdrw_seal_and_signature(ofdrw, env, tmp_path):
    sample, d, now = env
    _ok(
        ofdrw(
            "makeseal",
            d / "maker.key",
            d / "maker.pem",
            d / "user.pem",
            d / "pic.png",
            tmp_path / "o.esl",
        )
    )
    _ok(ofdrw("makedoc", tmp_path / "doc.ofd"))
    _ok(
        ofdrw(
            "sign",
            tmp_path / "doc.ofd",
            tmp_path / "signed.ofd",
            tmp_path / "o.esl",
            d / "user.key",
            d / "user.pem",
            "continue",
        )
    )
    opts = _opts(sample, now)
    seal_report = verify_seal((tmp_path / "o.esl").read_bytes(), opts)
    assert str(seal_report.status) == "valid", seal_report.to_text()
    assert seal_report.signatures[0].facts["maker_signature_covers"] == "seal_info"
    report = verify_ofd((tmp_path / "signed.ofd").read_bytes(), opts)
    assert str(report.status) == "valid", report.to_text()
    checks = {c.name: str(c.status) for c in report.signatures[0].checks}
    assert (
        checks["references"]
        == checks["seal_file"]
        == checks["revocation"]
        == checks["signer_chain"]
        == "pass"
    )

    # Anbao adds its own signature after ofdrw's; both stay valid for both implementations
    both = sign_ofd(
        (tmp_path / "signed.ofd").read_bytes(),
        seal=sample.seal,
        key=sample.key,
        cert=sample.cert,
        now=now + timedelta(minutes=1),
    )
    (tmp_path / "both.ofd").write_bytes(both)
    report = verify_ofd(both, opts)
    assert [str(s.status) for s in report.signatures] == ["valid", "valid"], report.to_text()
    assert _ok(ofdrw("verify", tmp_path / "both.ofd")).stdout.strip() == "VALID"

    # and ofdrw continues after Anbao's: three signatures, all valid in Anbao
    _ok(
        ofdrw(
            "sign",
            tmp_path / "both.ofd",
            tmp_path / "three.ofd",
            tmp_path / "o.esl",
            d / "user.key",
            d / "user.pem",
            "continue",
        )
    )
    report = verify_ofd(
        (tmp_path / "three.ofd").read_bytes(), _opts(sample, now + timedelta(minutes=5))
    )
    assert [str(s.status) for s in report.signatures] == ["valid"] * 3, report.to_text()


def test_whole_protected_ofdrw_document_refuses_more_signatures(ofdrw, env, tmp_path):
    sample, d, now = env
    _ok(ofdrw("makedoc", tmp_path / "doc.ofd"))
    esl = tmp_path / "a.esl"
    esl.write_bytes(sample.seal.der)  # an Anbao seal applied by ofdrw
    _ok(
        ofdrw(
            "sign",
            tmp_path / "doc.ofd",
            tmp_path / "whole.ofd",
            esl,
            d / "user.key",
            d / "user.pem",
            "whole",
        )
    )
    data = (tmp_path / "whole.ofd").read_bytes()
    report = verify_ofd(data, _opts(sample, now))
    assert str(report.status) == "valid", report.to_text()
    assert report.signatures[0].facts["maker_signature_covers"] == "seal_info"  # the default
    assert decode_seal(read_package(data)["Doc_0/Signs/Sign_0/Seal.esl"]).der == sample.seal.der
    with pytest.raises(SigningRefused):
        sign_ofd(
            data, seal=sample.seal, key=sample.key, cert=sample.cert, now=now + timedelta(minutes=1)
        )
