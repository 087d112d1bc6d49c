"""The default maker-signature reading is the one independent verifiers check: OpenSSL 3
verifies an Anbao seal's maker signature over DER(SES_SealInfo) alone (what ofdrw's seal
makers sign and the OpenSSL-based GB/T 38540 verifiers check), and Anbao verifies both."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from crypto import keys
from crypto.seals.format import MakerCoverage, Options, Trust, verify_seal
from crypto.seals.format.testing import make_sample_seal

D = "distid:1234567812345678"
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
_LINE = re.compile(
    rb"^\s*(\d+):d=1\s+hl=\s*(\d+)\s+l=\s*(\d+)\s+(?:prim|cons):\s+(\S+(?: \S+)?)", re.M
)


def _openssl_checks_maker_over_seal_info(openssl, tmp_path, seal, maker) -> bool:
    """OpenSSL finds the SESeal's elements; its pkeyutl checks signedValue over the first."""
    (tmp_path / "seal.der").write_bytes(seal.der)
    listing = openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "seal.der").stdout
    parts = [(int(o), int(h), int(n), kind) for o, h, n, kind in _LINE.findall(listing)]
    assert [p[3] for p in parts] == [b"SEQUENCE", b"OCTET STRING", b"OBJECT", b"BIT STRING"]
    (start, head, size, _), *_, (bit_at, bit_head, bit_size, _) = parts
    (tmp_path / "info.der").write_bytes(seal.der[start : start + head + size])
    # BIT STRING content: one unused-bits octet (0), then the DER SM2 signature
    (tmp_path / "sig.der").write_bytes(
        seal.der[bit_at + bit_head + 1 : bit_at + bit_head + bit_size]
    )
    (tmp_path / "maker.pub").write_bytes(keys.dump_public_key(maker.public_key()))
    result = openssl(
        "pkeyutl",
        "-verify",
        "-rawin",
        "-digest",
        "sm3",
        "-pubin",
        "-inkey",
        tmp_path / "maker.pub",
        "-pkeyopt",
        D,
        "-in",
        tmp_path / "info.der",
        "-sigfile",
        tmp_path / "sig.der",
        check=False,
    )
    return result.returncode == 0


def test_openssl_verifies_the_default_maker_signature_over_seal_info(openssl, tmp_path):
    sample = make_sample_seal(NOW)  # the default coverage
    assert _openssl_checks_maker_over_seal_info(openssl, tmp_path, sample.seal, sample.maker_key)
    other = make_sample_seal(NOW, coverage=MakerCoverage.SEAL_INFO_CERT_ALG, pki=sample.pki)
    # the check discriminates: the v1-style reading does not verify over SES_SealInfo alone
    assert not _openssl_checks_maker_over_seal_info(openssl, tmp_path, other.seal, other.maker_key)


@pytest.mark.parametrize("coverage", list(MakerCoverage))
def test_anbao_verifies_both_readings(coverage):
    sample = make_sample_seal(NOW, coverage=coverage)
    trust = Trust(roots=(sample.pki.root,), intermediates=(sample.pki.intermediate,))
    report = verify_seal(sample.seal.der, Options(trust=trust, at=NOW + timedelta(hours=1)))
    checks = {c.name: str(c.status) for c in report.signatures[0].checks}
    assert checks["maker_signature"] == checks["maker_chain"] == "pass", report.to_text()
    assert report.signatures[0].facts["maker_signature_covers"] == str(coverage)
