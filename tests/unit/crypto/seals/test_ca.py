"""The seal CA: hierarchy, holder certificates with USCC, immediate CRL on revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crypto.keystore import KekRing, MemoryWrappedKeys, SoftwareKeyStore
from crypto.pki import PathValidationError, Reason, uscc_of, validate_chain
from crypto.pki.testing import TEST_USCC
from crypto.seals.ca import CaConfig, CaRole, MemoryCaRepository, SealCa, SealCaError

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca_parts() -> tuple[SealCa, SoftwareKeyStore, MemoryCaRepository]:
    keys = SoftwareKeyStore(
        MemoryWrappedKeys(), KekRing.parse(KekRing.generate_entry("k1")), clock=lambda: NOW
    )
    repo = MemoryCaRepository()
    ca = SealCa(repo, keys, CaConfig(crl_url="http://anbao.test/seals/ca/crl"))
    ca.bootstrap(NOW)
    return ca, keys, repo


def test_not_set_up() -> None:
    keys = SoftwareKeyStore(
        MemoryWrappedKeys(), KekRing.parse(KekRing.generate_entry("k1")), clock=lambda: NOW
    )
    with pytest.raises(SealCaError, match="not been set up"):
        SealCa(MemoryCaRepository(), keys, CaConfig()).trust_roots()


def test_bootstrap_is_idempotent(
    ca_parts: tuple[SealCa, SoftwareKeyStore, MemoryCaRepository],
) -> None:
    ca, _, repo = ca_parts
    before = {role: repo.get_entity(role) for role in CaRole}
    ca.bootstrap(NOW + timedelta(days=1))
    assert {role: repo.get_entity(role) for role in CaRole} == before


def test_hierarchy_validates(ca_parts: tuple[SealCa, SoftwareKeyStore, MemoryCaRepository]) -> None:
    ca, _, _ = ca_parts
    for role in (CaRole.MAKER, CaRole.TSA):
        cert = ca.entity(role).certificate
        validate_chain(cert, ca.intermediates(), ca.trust_roots(), at=NOW, crls=ca.crls(NOW))
    tsa = ca.entity(CaRole.TSA).certificate
    assert tsa.asn1.extended_key_usage_value.native == ["time_stamping"]
    assert "extended_key_usage" in tsa.critical_extensions


def test_holder_certificate_and_revocation(
    ca_parts: tuple[SealCa, SoftwareKeyStore, MemoryCaRepository],
) -> None:
    ca, keys, _ = ca_parts
    ref = keys.generate("holder")
    cert = ca.issue_holder(
        organization="福州市测试局", uscc=TEST_USCC, public_key=ref.public_key, now=NOW
    )
    assert uscc_of(cert.subject) == TEST_USCC
    assert cert.crl_urls == ["http://anbao.test/seals/ca/crl"]
    assert {"digital_signature", "non_repudiation"} <= (cert.key_usage or set())
    validate_chain(cert, ca.intermediates(), ca.trust_roots(), at=NOW, crls=ca.crls(NOW))

    before = ca.crl(NOW).crl_number or 0
    revoked_at = NOW + timedelta(hours=1)
    crl = ca.revoke(cert.serial_number, now=revoked_at)
    assert crl.crl_number == before + 1
    assert [r.serial_number for r in crl.revoked] == [cert.serial_number]
    assert ca.crl(revoked_at) == crl  # served right away, no re-issue needed
    with pytest.raises(PathValidationError) as info:
        validate_chain(
            cert, ca.intermediates(), ca.trust_roots(), at=revoked_at, crls=ca.crls(revoked_at)
        )
    assert info.value.reason is Reason.REVOKED


def test_crl_reissued_past_half_life(
    ca_parts: tuple[SealCa, SoftwareKeyStore, MemoryCaRepository],
) -> None:
    ca, _, _ = ca_parts
    first = ca.crl(NOW + timedelta(hours=2))
    later = ca.crl(first.this_update + timedelta(hours=13))
    assert (later.crl_number or 0) > (first.crl_number or 0)
    assert later.revoked == first.revoked
