"""OpenSSL-made SM2 certificates, request and CRL (provenance: tests/vectors/README.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crypto.pki import (
    Certificate,
    CertificateList,
    CertificateRequest,
    PathValidationError,
    Reason,
    RevocationReason,
    uscc_of,
    validate_chain,
)
from tests.paths import TESTS

PKI = TESTS / "vectors" / "pki"
AT = datetime(2027, 1, 1, tzinfo=UTC)


def _cert(name: str) -> Certificate:
    return Certificate.load((PKI / f"openssl_{name}.pem").read_bytes())


def test_openssl_chain_validates():
    leaf, inter, root = _cert("leaf"), _cert("inter"), _cert("root")
    path = validate_chain(
        leaf, [inter], [root], at=AT, required_key_usage=("digital_signature", "non_repudiation")
    )
    assert path.certificates == (leaf, inter, root)
    assert uscc_of(leaf.subject) == "91350100M000100Y43"
    assert inter.path_length == 0
    assert inter.crl_urls == ["http://crl.example.test/root.crl"]
    assert leaf.authority_key_id == inter.subject_key_id


def test_openssl_csr_verifies():
    request = CertificateRequest.load((PKI / "openssl_leaf.csr").read_bytes())
    request.verify()
    assert request.public_key_bytes == _cert("leaf").public_key_bytes


def test_openssl_crl_revokes_the_leaf():
    leaf, inter, root = _cert("leaf"), _cert("inter"), _cert("root")
    crl = CertificateList.load((PKI / "openssl_inter.crl").read_bytes())
    assert crl.crl_number == 0x1000
    assert [(r.serial_number, r.reason) for r in crl.revoked] == [
        (leaf.serial_number, RevocationReason.KEY_COMPROMISE)
    ]
    with pytest.raises(PathValidationError) as info:
        validate_chain(leaf, [inter], [root], at=AT, crls=[crl])
    assert info.value.reason is Reason.REVOKED
