"""GM/T 0031 v1 signatures made live by OpenSSL 3 and by ofdrw verify in Anbao.

The OpenSSL forms name a fixed instant with a PKI made before it; the ofdrw signature carries
the clock of the moment, so its PKI is made relative to now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crypto.seals.format import Options, Trust, decode_signature, verify_detached, verify_ofd
from crypto.seals.format.trust import load_certificates, load_crls
from tests.integration.crypto.seals.format.v1_forms import (
    CRL_AT,
    DOCUMENT,
    FORMS,
    PKI_AT,
    SIGNED_AT,
    VERIFY_AT,
    material,
    ofdrw_v1,
    openssl_v1,
    trust_files,
)


def _trust(d) -> Trust:
    return Trust(
        roots=load_certificates((d / "root.pem").read_bytes()),
        intermediates=load_certificates((d / "intermediate.pem").read_bytes()),
        crls=load_crls((d / "crls.pem").read_bytes()),
    )


@pytest.fixture(scope="module")
def openssl_made(tmp_path_factory):
    work, out = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("out")
    m = material(work, PKI_AT)
    trust_files(m, out, CRL_AT)
    openssl_v1(m, out, PKI_AT, PKI_AT + timedelta(days=365))
    return out


@pytest.mark.parametrize("form", sorted(FORMS))
def test_openssl_made_v1_signatures_verify_in_every_time_form(openssl_made, form):
    data = (openssl_made / f"v1_{form}.sig").read_bytes()
    assert decode_signature(data).time_info == SIGNED_AT
    report = verify_detached(data, DOCUMENT, Options(trust=_trust(openssl_made), at=VERIFY_AT))
    assert str(report.status) == "valid", report.to_text()


def test_ofdrw_v1_container_signature_verifies_with_beijing_time(ofdrw, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    m = material(work, now - timedelta(days=30))
    trust_files(m, out, now - timedelta(days=1))
    signed = ofdrw_v1(m, out, ofdrw)
    peer = ofdrw("verify1", signed)
    assert peer.returncode == 0, peer.stdout + peer.stderr  # ofdrw accepts its own signature
    report = verify_ofd(
        signed.read_bytes(), Options(trust=_trust(out), at=now + timedelta(hours=1))
    )
    assert str(report.status) == "valid", report.to_text()
    (sig,) = report.signatures
    # ofdrw wrote Beijing wall-clock time without a zone: read right, and reported
    signed_at = datetime.fromisoformat(
        next(c.reason for c in sig.checks if c.name == "signing_time")
    )
    # between the start of the test and now (not eight hours off either way)
    assert now - timedelta(seconds=2) <= signed_at <= datetime.now(UTC)
    assert any("read as UTC+08:00" in n for n in sig.leniencies), sig.leniencies
    assert sig.facts["stamp"] == "page 1 at 50 50 40 40 mm"  # by number, not ofdrw's page ID
