from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import sm2
from crypto.errors import CertificateError, InvalidSignature
from crypto.pki import (
    DEFAULT_UID,
    OPENSSL_IMPLICIT_UID,
    Certificate,
    MalformedCertificateError,
    Profile,
    Reason,
    format_name,
    issue_certificate,
    key_identifier,
    make_root_ca,
    parse_name,
    uscc_of,
)
from crypto.pki.testing import TEST_USCC

from .helpers import NOW, shared_pki

_KEY = sm2.PrivateKey.generate()


def test_profiles_of_the_test_pki():
    pki = shared_pki()
    root, inter, leaf = pki.root, pki.intermediate, pki.leaf
    assert root.is_ca
    assert root.path_length == 1
    assert root.is_self_issued
    assert root.key_usage == {"key_cert_sign", "crl_sign"}
    assert inter.is_ca
    assert inter.path_length == 0
    assert inter.crl_urls == ["http://crl.anbao.test/root.crl"]
    assert not leaf.is_ca
    assert leaf.path_length is None
    assert leaf.key_usage == {"digital_signature", "non_repudiation"}
    assert {"basic_constraints", "key_usage"} <= leaf.critical_extensions
    assert uscc_of(leaf.subject) == TEST_USCC
    assert format_name(leaf.issuer) == format_name(inter.subject)


def test_key_identifiers_chain():
    pki = shared_pki()
    assert pki.root.subject_key_id == key_identifier(pki.root.public_key_bytes)
    assert pki.root.authority_key_id == pki.root.subject_key_id
    assert pki.intermediate.authority_key_id == pki.root.subject_key_id
    assert pki.leaf.authority_key_id == pki.intermediate.subject_key_id
    assert len(pki.leaf.subject_key_id or b"") == 20


def test_validity_and_serial():
    pki = shared_pki()
    assert pki.leaf.not_before == NOW
    assert pki.leaf.not_after == NOW + timedelta(days=365)
    assert pki.leaf.serial_number >= 2**126
    assert pki.leaf.serial_number.bit_length() == 127
    assert (
        len({pki.root.serial_number, pki.intermediate.serial_number, pki.leaf.serial_number}) == 3
    )


def test_signature_uses_the_gmt_0009_default_id():
    pki = shared_pki()
    issuer = pki.intermediate.public_key
    issuer.verify(pki.leaf.signature, pki.leaf.tbs_der, uid=DEFAULT_UID)
    with pytest.raises(InvalidSignature):
        issuer.verify(pki.leaf.signature, pki.leaf.tbs_der, uid=OPENSSL_IMPLICIT_UID)
    algorithm = pki.leaf.asn1["signature_algorithm"].dump()
    assert algorithm == bytes.fromhex("300a06082a811ccf55018375")  # no parameters
    assert pki.leaf.has_sm2_sm3_signature


def test_generalized_time_from_2050():
    late = datetime(2049, 12, 1, tzinfo=UTC)
    root = make_root_ca(_KEY, parse_name("/CN=Late"), now=late, days=60)
    validity = root.asn1["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"  # RFC 5280 §4.1.2.5
    assert root.not_after == late + timedelta(days=60)


def test_pem_and_der_round_trip():
    cert = shared_pki().leaf
    assert Certificate.load(cert.der) == cert
    assert Certificate.load(cert.pem()) == cert
    assert cert.pem().startswith(b"-----BEGIN CERTIFICATE-----")


def test_builder_refusals():
    pki = shared_pki()
    point = _KEY.public_key().to_bytes()
    subject = parse_name("/CN=x")
    cases = [
        lambda: issue_certificate(
            pki.root, _KEY, subject=subject, public_key=point, now=NOW, days=1
        ),
        lambda: make_root_ca(_KEY, subject, now=NOW.replace(tzinfo=None), days=1),
        lambda: make_root_ca(_KEY, subject, now=NOW, days=0),
        lambda: make_root_ca(_KEY, subject, now=NOW, days=1, path_len=-1),
        lambda: make_root_ca(_KEY, subject, now=NOW, days=1, serial=0),
        lambda: issue_certificate(
            pki.root,
            pki.root_key,
            subject=subject,
            public_key=b"\x04" + b"\x01" * 64,
            now=NOW,
            days=1,
        ),
        lambda: issue_certificate(
            pki.root,
            pki.root_key,
            subject=subject,
            public_key=point,
            now=NOW,
            days=1,
            profile=Profile.ROOT_CA,
        ),
    ]
    for case in cases:
        with pytest.raises(MalformedCertificateError) as info:
            case()
        assert info.value.reason in (Reason.INVALID_REQUEST, Reason.MALFORMED)


def test_non_sm2_certificate_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cert = x509.Certificate.load(shared_pki().leaf.der)
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    tbs["subject_public_key_info"] = x509.PublicKeyInfo.load(spki)
    cert["tbs_certificate"] = tbs
    with pytest.raises(MalformedCertificateError):
        Certificate.load(cert.dump(force=True))


@pytest.mark.parametrize(
    "data", [b"", b"\x30", b"\x30\x00", b"-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"]
)
def test_garbage_is_malformed(data):
    with pytest.raises(MalformedCertificateError):
        Certificate.load(data)


def test_every_truncation_is_malformed():
    der = shared_pki().leaf.der
    for cut in range(0, len(der), 7):
        with pytest.raises(CertificateError):
            Certificate.load(der[:cut])
    with pytest.raises(MalformedCertificateError):
        Certificate.load(der + b"\x00")  # trailing data


@settings(max_examples=30)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_certificate_errors(data):
    with contextlib.suppress(CertificateError):
        Certificate.load(data)


@settings(max_examples=40)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_byte_flips_never_crash(position, value):
    der = bytearray(shared_pki().leaf.der)
    der[position % len(der)] = value
    with contextlib.suppress(CertificateError):
        Certificate.load(bytes(der))


@settings(max_examples=15)
@given(
    cn=st.text(alphabet="abcXYZ 0123456789-中文", min_size=1, max_size=30)
    .map(str.strip)
    .filter(bool),
    serial=st.integers(min_value=1, max_value=2**159 - 1),
    days=st.integers(min_value=1, max_value=40000),
    path_len=st.none() | st.integers(min_value=0, max_value=16),
    offset=st.integers(min_value=0, max_value=60 * 365 * 86400),
)
def test_der_round_trip_of_built_certificates(cn, serial, days, path_len, offset):
    now = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
    cert = make_root_ca(
        _KEY, parse_name(f"/C=CN/CN={cn}"), now=now, days=days, path_len=path_len, serial=serial
    )
    again = Certificate.load(cert.der)
    assert again.serial_number == serial
    assert again.path_length == path_len
    assert again.not_before == now.replace(microsecond=0)
    assert again.not_after == now.replace(microsecond=0) + timedelta(days=days)
    assert again.subject == parse_name(f"/C=CN/CN={cn}")
    assert x509.Certificate.load(again.der).dump(force=True) == again.der  # canonical DER
