"""Certificate decoding: what the Rust-backed loader refuses and reads, next to asn1crypto.

``Certificate.load`` parses with pyca/cryptography's X.509 parser and slices the signed
parts from the received DER; asn1crypto's full parse (what loading did before) is the
oracle here: nothing it refuses may load, and the fields read must be the same.
"""

from __future__ import annotations

import contextlib
import copy
import pickle

import pytest
from asn1crypto import core, x509
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import CertificateError
from crypto.pki import Certificate, MalformedCertificateError, _asn1, format_name, names, uscc_of

from .helpers import shared_pki


def _asn1crypto_accepts(der: bytes) -> bool:
    """What loading did before: asn1crypto's strict, full parse plus the SM2 key check."""
    try:
        cert = x509.Certificate.load(der, strict=True)
        _asn1.fully_parse(cert)
        _asn1.sm2_point(cert.public_key)
    except _asn1.PARSE_ERRORS:
        return False
    return True


def _reencoded(der: bytes, mutate) -> bytes:  # type: ignore[no-untyped-def]
    """``der`` with its TBS changed by ``mutate`` (signature left as it is: loading does not
    verify it)."""
    cert = x509.Certificate.load(der)
    tbs = x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    mutate(tbs)
    cert["tbs_certificate"] = tbs
    return bytes(cert.dump(force=True))


def test_fields_match_asn1crypto():
    for cert in (shared_pki().root, shared_pki().intermediate, shared_pki().leaf):
        view = x509.Certificate.load(cert.der)
        assert cert.tbs_der == view["tbs_certificate"].dump()
        assert cert.signature == view["signature_value"].native
        assert cert.serial_number == view.serial_number
        assert cert.not_before == view.not_valid_before
        assert cert.not_after == view.not_valid_after
        assert cert.subject == view.subject
        assert cert.issuer == view.issuer
        assert cert.subject_der == view.subject.dump()
        assert cert.issuer_der == view.issuer.dump()
        assert cert.is_ca == bool(view.ca)
        assert cert.path_length == view.max_path_length
        assert cert.key_usage == frozenset(view.key_usage_value.native)
        assert cert.subject_key_id == view.key_identifier
        assert cert.authority_key_id == view.authority_key_identifier
        assert cert.critical_extensions == frozenset(view.critical_extensions)
        assert cert.public_key_bytes == _asn1.sm2_point(view.public_key)
        assert cert.subject_text == format_name(view.subject)
        assert cert.uscc == uscc_of(view.subject)


@pytest.mark.parametrize("serial", [0, -1, -(2**70)])
def test_a_serial_that_is_not_positive_is_refused(serial):
    """RFC 5280 §4.1.2.2; asn1crypto accepted these, pyca/cryptography only warns."""
    der = _reencoded(shared_pki().leaf.der, lambda tbs: tbs.__setitem__("serial_number", serial))
    assert _asn1crypto_accepts(der)
    with pytest.raises(MalformedCertificateError):
        Certificate.load(der)


@pytest.mark.parametrize("host", [b"[rl.anbao.test", b"crl.anbao.tes]", b"crl:anbao.test"])
def test_a_crl_distribution_point_asn1crypto_refuses_is_refused(host):
    """pyca/cryptography takes any IA5String as a URI; asn1crypto's parse of the extension
    refuses these hosts, and loading still does (found by the byte-flip comparison)."""
    leaf = shared_pki().leaf.der
    assert b"http://crl.anbao.test/" in leaf
    der = leaf.replace(b"http://crl.anbao.test/", b"http://" + host + b"/")
    assert not _asn1crypto_accepts(der)
    with pytest.raises(MalformedCertificateError):
        Certificate.load(der)


def test_a_name_value_that_does_not_decode_is_refused():
    """A UTF8String common name holding invalid UTF-8 (asn1crypto refused it, and so do we)."""
    leaf = shared_pki().leaf.der
    name = "福州市测试局".encode()
    assert leaf.count(name) >= 1
    der = leaf.replace(name, b"\xff" * len(name))
    assert not _asn1crypto_accepts(der)
    with pytest.raises(MalformedCertificateError):
        Certificate.load(der)


_VALUES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)


@settings(max_examples=60)
@given(
    values=st.lists(
        st.tuples(
            st.sampled_from(
                ["common_name", "organization_name", "organizational_unit_name", "locality_name"]
            ),
            st.sampled_from(["utf8_string", "bmp_string", "universal_string", "teletex_string"]),
            _VALUES,
        ),
        min_size=1,
        max_size=4,
    ),
    extra=st.sampled_from([None, ("email_address", "a@b.example"), ("2.5.4.99", "x")]),
)
def test_names_read_from_der_match_asn1crypto(values, extra):
    """The fast DER reading of names gives asn1crypto's answer (or hands over to it)."""
    rdns = []
    for attribute, kind, drawn in values:
        text = drawn
        if kind == "teletex_string":  # asn1crypto's teletex codec maps few characters
            text = "".join(c for c in drawn if c.isascii() and c.isalnum()) or "a"
        value = x509.DirectoryString(name=kind, value=text)
        rdns.append([x509.NameTypeAndValue({"type": attribute, "value": value})])
    if extra is not None:
        kind = (
            x509.EmailAddress(extra[1])
            if extra[0] == "email_address"
            else core.UTF8String(extra[1])
        )
        rdns.append([x509.NameTypeAndValue({"type": extra[0], "value": kind})])
    name = x509.Name(
        name="", value=x509.RDNSequence([x509.RelativeDistinguishedName(r) for r in rdns])
    )
    der = bytes(name.dump())
    slow = names._asn1crypto_attributes(x509.Name.load(der))
    assert names.name_attributes(x509.Name.load(der)) == slow
    assert list(names.der_attributes(der)) == slow


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_loading_is_never_looser_than_asn1crypto(data):
    """One byte changed anywhere in a certificate: if it loads, asn1crypto's full parse
    accepted it too (a wider offline run of every position and value found only the
    CRL distribution point case above)."""
    der = bytearray(shared_pki().leaf.der)
    position = data.draw(st.integers(0, len(der) - 1))
    der[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CertificateError):
        Certificate.load(bytes(der))
        assert _asn1crypto_accepts(bytes(der))


def test_an_authority_key_identifier_serial_that_is_not_positive_is_refused():
    """authorityCertSerialNumber [2] in place of keyIdentifier [0], a negative INTEGER: found
    by the byte-flip comparison (pyca/cryptography only warns, asn1crypto accepted it)."""
    der = shared_pki().intermediate.der
    aki = b"\x06\x03\x55\x1d\x23\x04\x18\x30\x16\x80\x14"
    assert der.count(aki) == 1
    start = der.index(aki) + len(aki)
    mutated = der[: start - 2] + b"\x82\x14\xff" + der[start + 1 :]
    with pytest.raises(MalformedCertificateError):
        Certificate.load(mutated)


def test_certificates_pickle_and_copy_by_value():
    leaf = shared_pki().leaf
    for clone in (pickle.loads(pickle.dumps(leaf)), copy.deepcopy(leaf), copy.copy(leaf)):  # noqa: S301 - our own bytes
        assert clone == leaf
        assert clone.subject_text == leaf.subject_text
        assert clone.public_key_bytes == leaf.public_key_bytes
