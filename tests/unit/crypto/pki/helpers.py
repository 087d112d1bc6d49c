"""Shared helpers for the PKI tests: a clock, a cached test PKI and a TBS re-signer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from asn1crypto import x509

from crypto import sm2
from crypto.pki import DEFAULT_UID, Certificate
from crypto.pki.testing import SamplePki, make_test_pki

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@cache
def shared_pki() -> SamplePki:
    """One PKI per test session: key generation is cheap, but not free."""
    return make_test_pki(NOW)


def resign(
    cert: Certificate,
    key: sm2.PrivateKey,
    mutate: Callable[[x509.TbsCertificate], None],
    *,
    uid: bytes = DEFAULT_UID,
) -> Certificate:
    """``cert`` with its TBS changed by ``mutate`` and signed again by ``key``."""
    tbs = x509.TbsCertificate.load(cert.tbs_der)
    mutate(tbs)
    tbs_der = tbs.dump(force=True)
    signed = x509.Certificate(
        {
            "tbs_certificate": x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": cert.asn1["signature_algorithm"],
            "signature_value": key.sign(tbs_der, uid=uid),
        }
    )
    return Certificate.load(signed.dump())
