from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import csr as asn1_csr
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import sm2
from crypto.errors import CertificateError
from crypto.pki import (
    OPENSSL_IMPLICIT_UID,
    CertificateList,
    CertificateRequest,
    MalformedCertificateError,
    PathValidationError,
    Reason,
    RevocationReason,
    RevokedCertificate,
    build_crl,
    build_csr,
    parse_name,
)

from .helpers import NOW, shared_pki

_KEY = sm2.PrivateKey.generate()


def test_csr_round_trip_and_self_signature():
    request = build_csr(_KEY, parse_name("/C=CN/O=Org/CN=Seal"))
    again = CertificateRequest.load(request.pem())
    assert again == request
    assert again.subject == parse_name("/C=CN/O=Org/CN=Seal")
    assert again.public_key_bytes == _KEY.public_key().to_bytes()
    again.verify()
    assert request.asn1["certification_request_info"]["attributes"].dump() == b"\xa0\x00"


def test_csr_tampered_subject_fails():
    request = asn1_csr.CertificationRequest.load(build_csr(_KEY, parse_name("/CN=Alice")).der)
    info = asn1_csr.CertificationRequestInfo.load(request["certification_request_info"].dump())
    info["subject"] = parse_name("/CN=Mallory")
    request["certification_request_info"] = info
    tampered = CertificateRequest.load(request.dump(force=True))
    with pytest.raises(PathValidationError) as exc:
        tampered.verify()
    assert exc.value.reason is Reason.BAD_SIGNATURE


def test_csr_uid_is_explicit():
    request = build_csr(_KEY, parse_name("/CN=x"), uid=OPENSSL_IMPLICIT_UID)
    with pytest.raises(PathValidationError):
        request.verify()
    request.verify(uids=(OPENSSL_IMPLICIT_UID,))


def test_csr_truncated():
    der = build_csr(_KEY, parse_name("/CN=x")).der
    for cut in range(0, len(der), 5):
        with pytest.raises(MalformedCertificateError):
            CertificateRequest.load(der[:cut])


def test_crl_fields():
    pki = shared_pki()
    entries = (
        RevokedCertificate(5, NOW - timedelta(days=1), RevocationReason.KEY_COMPROMISE),
        RevokedCertificate(2**126 + 7, NOW, None),
    )
    crl = pki.crl(revoked=entries, number=42)
    again = CertificateList.load(crl.pem())
    assert again == crl
    assert again.revoked == list(entries)
    assert again.crl_number == 42
    assert again.this_update == NOW
    assert again.next_update == NOW + timedelta(days=7)
    assert again.authority_key_id == pki.intermediate.subject_key_id
    assert again.asn1["tbs_cert_list"]["version"].native == "v2"
    assert again.has_sm2_sm3_signature
    pki.intermediate.public_key.verify(again.signature, again.tbs_der)


def test_empty_crl_omits_revoked_certificates():
    crl = shared_pki().crl()
    assert crl.revoked == []
    tbs = asn1_crl.TbsCertList.load(crl.tbs_der)
    assert "revoked_certificates" not in [k for k, v in tbs.native.items() if v]
    assert crl.der.count(b"\x17\x0d") == 2  # only thisUpdate and nextUpdate: RFC 5280 §5.1.2.6


def test_crl_builder_refusals():
    pki = shared_pki()
    good = {"revoked": [], "now": NOW, "next_update": timedelta(days=1), "crl_number": 1}
    bad_cases = [
        {"now": NOW.replace(tzinfo=None)},
        {"next_update": timedelta(0)},
        {"crl_number": -1},
        {"crl_number": 2**160},
        {"revoked": [RevokedCertificate(0, NOW)]},
    ]
    for bad in bad_cases:
        with pytest.raises(MalformedCertificateError):
            build_crl(pki.intermediate, pki.intermediate_key, **{**good, **bad})
    with pytest.raises(MalformedCertificateError):
        build_crl(pki.intermediate, pki.root_key, **good)


def test_crl_truncated():
    der = shared_pki().crl(revoked=(RevokedCertificate(9, NOW),)).der
    for cut in range(0, len(der), 5):
        with pytest.raises(CertificateError):
            CertificateList.load(der[:cut])


_entries = st.lists(
    st.builds(
        RevokedCertificate,
        serial_number=st.integers(min_value=1, max_value=2**159 - 1),
        revoked_at=st.integers(min_value=0, max_value=10**8).map(
            lambda s: NOW - timedelta(seconds=s)
        ),
        reason=st.none() | st.sampled_from(RevocationReason),
    ),
    max_size=6,
)


@settings(max_examples=20)
@given(entries=_entries, number=st.integers(min_value=0, max_value=2**159 - 1))
def test_crl_der_round_trip(entries, number):
    pki = shared_pki()
    crl = pki.crl(revoked=tuple(entries), number=number)
    again = CertificateList.load(crl.der)
    assert again.revoked == entries
    assert again.crl_number == number
    assert asn1_crl.CertificateList.load(crl.der).dump(force=True) == crl.der


@settings(max_examples=30)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_certificate_errors(data):
    for loader in (CertificateList.load, CertificateRequest.load):
        with contextlib.suppress(CertificateError):
            loader(data)


def test_object_descriptor_in_place_of_attributes_is_malformed():
    """Found by fuzzing: asn1crypto raises AttributeError on an ObjectDescriptor here."""
    der = build_csr(_KEY, parse_name("/CN=x")).der
    assert der.count(b"\xa0\x00") == 1
    with pytest.raises(MalformedCertificateError):
        CertificateRequest.load(der.replace(b"\xa0\x00", b"\x07\x00"))
