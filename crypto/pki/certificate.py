"""X.509 v3 certificates signed with SM2-with-SM3: parse, build, sign.

The builders take the clock (``now``) and, optionally, the serial as arguments: core code
never reads the clock, and tests can pin both. Profiles follow RFC 5280 §4.2.1: CA
certificates carry a critical basicConstraints with cA and a critical keyUsage with
keyCertSign and cRLSign; end-entity certificates a critical basicConstraints without cA and
digitalSignature (plus nonRepudiation for seal holders, who sign with legal effect).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from asn1crypto import keys, x509
from cryptography import x509 as rust_x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID

from crypto.pki import _asn1
from crypto.pki._keys import DEFAULT_UID, SigningKey, VerifyingKey, public_key_from_point, sign
from crypto.pki.errors import MalformedCertificateError, invalid_request
from crypto.pki.names import der_attributes, format_attributes, names_equal, uscc_in

_PEM_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
_SKI_LENGTH = 20
_SERIAL_BITS = 127
_MAX_PATH_LEN = 16


class Profile(StrEnum):
    """What a certificate is for; decides basicConstraints and keyUsage."""

    ROOT_CA = "root_ca"
    INTERMEDIATE_CA = "intermediate_ca"
    END_ENTITY = "end_entity"
    SEAL_HOLDER = "seal_holder"


_KEY_USAGE: dict[Profile, frozenset[str]] = {
    Profile.ROOT_CA: frozenset({"key_cert_sign", "crl_sign"}),
    Profile.INTERMEDIATE_CA: frozenset({"key_cert_sign", "crl_sign"}),
    Profile.END_ENTITY: frozenset({"digital_signature"}),
    Profile.SEAL_HOLDER: frozenset({"digital_signature", "non_repudiation"}),
}


@dataclass(frozen=True)
class _Layout:
    """Exact bytes of the parts of a certificate that verification reads (RFC 5280 §4.1),
    sliced out of the received DER, never re-encoded."""

    tbs: bytes
    signature_algorithm: bytes
    inner_algorithm: bytes
    signature: bytes
    issuer: bytes
    subject: bytes
    spki: bytes
    extensions: tuple[bytes, ...]


# Besides ValueError, what pyca/cryptography raises on certificates it refuses.
_LOAD_ERRORS: tuple[type[Exception], ...] = (
    *_asn1.PARSE_ERRORS,
    rust_x509.InvalidVersion,
    rust_x509.DuplicateExtension,
    rust_x509.UnsupportedGeneralNameType,
)
_VERSION_TAG, _INTEGER_TAG, _BIT_STRING_TAG, _EXTENSIONS_TAG = 0xA0, 0x02, 0x03, 0xA3
_TBS_REQUIRED = 6  # serial, signature, issuer, validity, subject, subjectPublicKeyInfo


def _layout(der: bytes) -> _Layout:
    """Slice a certificate's DER; raise ValueError on a shape that is not a Certificate.

    Also refuses a signatureValue with unused bits and a serial that is not positive (RFC
    5280 §4.1.2.2), which the Rust parser only warns about.
    """
    top = _asn1.element(der, 0)
    if top.end != len(der):
        raise ValueError("trailing bytes")
    tbs, algorithm, value = _asn1.elements(der, top)
    fields = _asn1.elements(der, tbs)
    fields = fields[1:] if fields and fields[0].tag == _VERSION_TAG else fields
    if len(fields) < _TBS_REQUIRED or value.tag != _BIT_STRING_TAG or der[value.body] != 0:
        raise ValueError("not a certificate")
    serial, inner, issuer, _validity, subject, spki = fields[:_TBS_REQUIRED]
    wrapped = [f for f in fields[_TBS_REQUIRED:] if f.tag == _EXTENSIONS_TAG]
    listed = _asn1.elements(der, _asn1.elements(der, wrapped[0])[0]) if wrapped else []
    digits = der[serial.body : serial.end]
    if serial.tag != _INTEGER_TAG or not digits or digits[0] & 0x80 or not digits.strip(b"\0"):
        raise ValueError("serial number is not a positive INTEGER")
    return _Layout(
        tbs=der[tbs.head : tbs.end],
        signature_algorithm=der[algorithm.head : algorithm.end],
        inner_algorithm=der[inner.head : inner.end],
        signature=der[value.body + 1 : value.end],
        issuer=der[issuer.head : issuer.end],
        subject=der[subject.head : subject.end],
        spki=der[spki.head : spki.end],
        extensions=tuple(der[e.head : e.end] for e in listed),
    )


def _extensions_of(
    parsed: rust_x509.Certificate, parts: _Layout
) -> dict[str, rust_x509.Extension[Any]]:
    """Extensions by dotted OID, each one parsed by the Rust parser (the fields read) and by
    asn1crypto as before (so what it refused still fails: e.g. a CRL distribution point
    whose URI does not parse); the latter by exact bytes, cached, as the extensions of a
    CA's certificates are mostly the same bytes. The subjectKeyIdentifier, different in
    every certificate, is a plain OCTET STRING, which the Rust parser checks."""
    for raw in parts.extensions:
        if _SKI_EXTENSION not in raw[:_SKI_PREFIX]:
            _asn1.parse_extension(raw)
    return {e.oid.dotted_string: e for e in parsed.extensions}


_SKI_EXTENSION = b"\x06\x03\x55\x1d\x0e"  # OBJECT IDENTIFIER 2.5.29.14
_SKI_PREFIX = 4 + len(_SKI_EXTENSION)  # the OID comes right after the SEQUENCE header


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate: its exact DER plus the fields path validation reads.

    Parsed by pyca/cryptography's Rust X.509 parser (strict DER, every extension it knows
    decoded), with the signed parts sliced from the received bytes and names decoded only
    when read; ``asn1`` gives asn1crypto's view on demand (builders, rarely read fields).
    """

    der: bytes
    _parsed: rust_x509.Certificate = field(repr=False, compare=False)
    _parts: _Layout = field(repr=False, compare=False)
    _extensions: dict[str, rust_x509.Extension[Any]] = field(repr=False, compare=False)
    _subject_attributes: tuple[tuple[str, str], ...] = field(repr=False, compare=False)

    @classmethod
    def load(cls, data: bytes) -> Certificate:
        """Parse PEM or DER; raise ``MalformedCertificateError`` on anything malformed.

        Everything is checked now (structure, extensions, names, the SM2 key) and trailing
        bytes are refused, so a certificate either loads whole or not at all.
        """
        try:
            der = _asn1.unarmor(data, _PEM_LABELS)
            parts = _layout(der)
            parsed = rust_x509.load_der_x509_certificate(der)
            extensions = _extensions_of(parsed, parts)
            _asn1.sm2_point_of(parts.spki)
            der_attributes(parts.issuer)
            subject = der_attributes(parts.subject)
        except _LOAD_ERRORS as exc:
            raise MalformedCertificateError("not a well-formed SM2 X.509 certificate") from exc
        return cls(der, parsed, parts, extensions, subject)

    def pem(self) -> bytes:
        """PEM text ("CERTIFICATE")."""
        return _asn1.armor("CERTIFICATE", self.der)

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        """Pickle and copy by value (the Rust parser's objects do not pickle)."""
        return (Certificate.load, (self.der,))

    @cached_property
    def asn1(self) -> x509.Certificate:
        """asn1crypto's view of the same DER (parsed lazily, field by field)."""
        return x509.Certificate.load(self.der)

    @cached_property
    def subject(self) -> x509.Name:
        """Subject name."""
        return x509.Name.load(self._parts.subject)

    @property
    def subject_der(self) -> bytes:
        """The exact DER of the subject name."""
        return self._parts.subject

    @property
    def issuer_der(self) -> bytes:
        """The exact DER of the issuer name."""
        return self._parts.issuer

    @cached_property
    def subject_text(self) -> str:
        """The subject as OpenSSL-style "/C=CN/O=…" text (``format_name``)."""
        return format_attributes(self._subject_attributes)

    @cached_property
    def uscc(self) -> str | None:
        """The unified social credit code in the subject (``uscc_of``), None when absent."""
        return uscc_in(self._subject_attributes)

    @cached_property
    def issuer(self) -> x509.Name:
        """Issuer name."""
        return x509.Name.load(self._parts.issuer)

    @cached_property
    def serial_number(self) -> int:
        """Serial number."""
        return self._parsed.serial_number

    @cached_property
    def not_before(self) -> datetime:
        """Start of the validity period (aware, UTC)."""
        return self._parsed.not_valid_before_utc

    @cached_property
    def not_after(self) -> datetime:
        """End of the validity period (aware, UTC), inclusive (RFC 5280 §4.1.2.5)."""
        return self._parsed.not_valid_after_utc

    def _value(self, oid: rust_x509.ObjectIdentifier) -> Any:
        extension = self._extensions.get(oid.dotted_string)
        return None if extension is None else extension.value

    @cached_property
    def is_ca(self) -> bool:
        """basicConstraints cA (RFC 5280 §4.2.1.9); False when the extension is absent."""
        value = self._value(ExtensionOID.BASIC_CONSTRAINTS)
        return value is not None and bool(value.ca)

    @cached_property
    def path_length(self) -> int | None:
        """basicConstraints pathLenConstraint of a CA, None when absent."""
        value = self._value(ExtensionOID.BASIC_CONSTRAINTS)
        return value.path_length if value is not None and value.ca else None

    @cached_property
    def key_usage(self) -> frozenset[str] | None:
        """keyUsage bit names (asn1crypto spelling); None when the extension is absent."""
        value = self._value(ExtensionOID.KEY_USAGE)
        return None if value is None else _key_usage_names(value)

    @cached_property
    def subject_key_id(self) -> bytes | None:
        """subjectKeyIdentifier, None when absent."""
        value = self._value(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        return None if value is None else bytes(value.digest)

    @cached_property
    def authority_key_id(self) -> bytes | None:
        """authorityKeyIdentifier keyIdentifier, None when absent."""
        value = self._value(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        return (
            None if value is None or value.key_identifier is None else bytes(value.key_identifier)
        )

    @property
    def crl_urls(self) -> list[str]:
        """URIs of the CRL distribution points (RFC 5280 §4.2.1.13)."""
        urls: list[str] = []
        for point in self.asn1.crl_distribution_points:
            urls.extend(u for u in [point.url] if u)
        return urls

    @cached_property
    def critical_extensions(self) -> frozenset[str]:
        """Names (asn1crypto spelling, else dotted OIDs) of the critical extensions."""
        return frozenset(
            _EXTENSION_NAMES.get(dotted, dotted)
            for dotted, extension in self._extensions.items()
            if extension.critical
        )

    @cached_property
    def public_key_bytes(self) -> bytes:
        """The SM2 public key point 04||x||y."""
        return _asn1.sm2_point_of(self._parts.spki)

    @cached_property
    def public_key(self) -> VerifyingKey:
        """The subject's public key, as an SM2 primitive key."""
        return public_key_from_point(self.public_key_bytes)

    @property
    def tbs_der(self) -> bytes:
        """The exact DER the issuer signed."""
        return self._parts.tbs

    @property
    def signature(self) -> bytes:
        """The DER SM2 signature in the signatureValue BIT STRING."""
        return self._parts.signature

    @cached_property
    def has_sm2_sm3_signature(self) -> bool:
        """Both algorithm fields say SM2-with-SM3 and agree (RFC 5280 §4.1.1.2)."""
        outer = self._parts.signature_algorithm
        return outer == self._parts.inner_algorithm and outer in _asn1.SM2_SM3_ALGORITHMS

    @cached_property
    def is_self_issued(self) -> bool:
        """Subject equals issuer (RFC 5280 §6.1, name comparison per §7.1)."""
        return names_equal(self.subject, self.issuer)


_EXTENSION_NAMES: dict[str, str] = dict(x509.ExtensionId._map)
_KEY_USAGE_BITS = (
    ("digital_signature", "digital_signature"),
    ("content_commitment", "non_repudiation"),
    ("key_encipherment", "key_encipherment"),
    ("data_encipherment", "data_encipherment"),
    ("key_agreement", "key_agreement"),
    ("key_cert_sign", "key_cert_sign"),
    ("crl_sign", "crl_sign"),
)


def _key_usage_names(usage: rust_x509.KeyUsage) -> frozenset[str]:
    """asn1crypto's names of the asserted bits (encipherOnly and decipherOnly are read only
    with keyAgreement, as pyca/cryptography exposes them)."""
    names = {name for attribute, name in _KEY_USAGE_BITS if getattr(usage, attribute)}
    if usage.key_agreement:
        names |= {n for n in ("encipher_only", "decipher_only") if getattr(usage, n)}
    return frozenset(names)


def check_issuer(ca_cert: Certificate, ca_key: SigningKey, usage: str) -> None:
    """Refuse to sign with a key that is not ``ca_cert``'s, or a CA not allowed ``usage``."""
    if ca_key.public_key().to_bytes() != ca_cert.public_key_bytes:
        raise invalid_request("CA key does not match CA certificate")
    if not ca_cert.is_ca:
        raise invalid_request("the issuing certificate is not a CA (basicConstraints)")
    if ca_cert.key_usage is not None and usage not in ca_cert.key_usage:
        raise invalid_request(f"the issuing certificate's keyUsage lacks {usage}")


def key_identifier(point: bytes) -> bytes:
    """SKI: leftmost 160 bits of SM3 over the subjectPublicKey bits (RFC 7093 §2 method, SM3)."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(point)
    return digest.finalize()[:_SKI_LENGTH]


def random_serial() -> int:
    """A positive 127-bit serial with its top bit set: unpredictable, fixed length, < 20 octets."""
    return secrets.randbits(_SERIAL_BITS - 1) | (1 << (_SERIAL_BITS - 1))


@dataclass(frozen=True)
class _Issuer:
    name: x509.Name
    key: SigningKey
    key_id: bytes


def _extensions(
    profile: Profile,
    *,
    ski: bytes,
    aki: bytes,
    path_len: int | None,
    crl_urls: Sequence[str],
    key_usage: frozenset[str] | None,
    extended_key_usage: Sequence[str] = (),
) -> list[dict[str, object]]:
    is_ca = profile in (Profile.ROOT_CA, Profile.INTERMEDIATE_CA)
    constraints: dict[str, object] = {"ca": is_ca}
    if is_ca and path_len is not None:
        constraints["path_len_constraint"] = path_len
    usage = key_usage if key_usage is not None else _KEY_USAGE[profile]
    extensions: list[dict[str, object]] = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": constraints},
        {"extn_id": "key_usage", "critical": True, "extn_value": set(usage)},
        {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": aki},
        },
    ]
    if crl_urls:
        points = [
            {
                "distribution_point": x509.DistributionPointName(
                    name="full_name",
                    value=[x509.GeneralName(name="uniform_resource_identifier", value=url)],
                )
            }
            for url in crl_urls
        ]
        extensions.append(
            {"extn_id": "crl_distribution_points", "critical": False, "extn_value": points}
        )
    if extended_key_usage:  # RFC 3161 §2.3: a TSA certificate's EKU is critical
        extensions.append(
            {
                "extn_id": "extended_key_usage",
                "critical": True,
                "extn_value": list(extended_key_usage),
            }
        )
    return extensions


def _check_request(now: datetime, days: int, path_len: int | None) -> None:
    if now.tzinfo is None:
        raise invalid_request("now must be timezone-aware")
    if days <= 0:
        raise invalid_request("validity must be at least one day")
    if path_len is not None and not 0 <= path_len <= _MAX_PATH_LEN:
        raise invalid_request("path length out of range")


def _build(
    *,
    issuer: _Issuer,
    subject: x509.Name,
    public_key: bytes,
    profile: Profile,
    now: datetime,
    days: int,
    serial: int | None,
    path_len: int | None,
    crl_urls: Sequence[str],
    key_usage: frozenset[str] | None,
    uid: bytes,
    extended_key_usage: Sequence[str] = (),
) -> Certificate:
    _check_request(now, days, path_len)
    try:
        spki = _asn1.spki_for(public_key)
        _asn1.sm2_point(spki)
    except ValueError as exc:
        raise invalid_request("not an SM2 public key") from exc
    public_key_from_point(public_key)  # on the curve, or MalformedCertificateError
    serial = random_serial() if serial is None else serial
    if serial <= 0:
        raise invalid_request("serial must be positive")
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": _asn1.sm2_sm3_algorithm(),
            "issuer": issuer.name,
            "validity": {
                "not_before": _asn1.x509_time(now),
                "not_after": _asn1.x509_time(now + timedelta(days=days)),
            },
            "subject": subject,
            "subject_public_key_info": keys.PublicKeyInfo.load(spki.dump()),
            "extensions": _extensions(
                profile,
                ski=key_identifier(public_key),
                aki=issuer.key_id,
                path_len=path_len,
                crl_urls=crl_urls,
                key_usage=key_usage,
                extended_key_usage=extended_key_usage,
            ),
        }
    )
    tbs_der = tbs.dump()
    cert = x509.Certificate(
        {
            "tbs_certificate": x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": _asn1.sm2_sm3_algorithm(),
            "signature_value": sign(issuer.key, tbs_der, uid),
        }
    )
    return Certificate.load(cert.dump())


def make_root_ca(
    key: SigningKey,
    subject: x509.Name,
    *,
    now: datetime,
    days: int,
    path_len: int | None = None,
    serial: int | None = None,
    uid: bytes = DEFAULT_UID,
) -> Certificate:
    """A self-signed root CA certificate (RFC 5280 §3.2, §4.2.1.9)."""
    point = key.public_key().to_bytes()
    return _build(
        issuer=_Issuer(subject, key, key_identifier(point)),
        subject=subject,
        public_key=point,
        profile=Profile.ROOT_CA,
        now=now,
        days=days,
        serial=serial,
        path_len=path_len,
        crl_urls=(),
        key_usage=None,
        uid=uid,
    )


def issue_certificate(
    ca_cert: Certificate,
    ca_key: SigningKey,
    *,
    subject: x509.Name,
    public_key: bytes,
    now: datetime,
    days: int,
    profile: Profile = Profile.END_ENTITY,
    path_len: int | None = None,
    crl_urls: Sequence[str] = (),
    key_usage: frozenset[str] | None = None,
    serial: int | None = None,
    uid: bytes = DEFAULT_UID,
    extended_key_usage: Sequence[str] = (),
) -> Certificate:
    """Issue a certificate for ``public_key`` (04||x||y) signed by ``ca_cert``'s key.

    The issuer name and the authorityKeyIdentifier come from ``ca_cert`` (RFC 5280 §4.1.2.4,
    §4.2.1.1), so names chain by construction. ``ca_key`` must match ``ca_cert``: refused
    otherwise, and so is a ``ca_cert`` that may not issue certificates (no cA, or keyUsage
    without keyCertSign: RFC 5280 §4.2.1.3, §4.2.1.9), since the result could never validate.
    The validity is not clipped to the CA's. ``extended_key_usage`` (asn1crypto names or
    dotted OIDs, e.g. ``("time_stamping",)``) adds a critical extKeyUsage (RFC 5280 §4.2.1.12).
    """
    check_issuer(ca_cert, ca_key, "key_cert_sign")
    if profile is Profile.ROOT_CA:
        raise invalid_request("use make_root_ca for roots")
    key_id = ca_cert.subject_key_id or key_identifier(ca_cert.public_key_bytes)
    return _build(
        issuer=_Issuer(ca_cert.subject, ca_key, key_id),
        subject=subject,
        public_key=public_key,
        profile=profile,
        now=now,
        days=days,
        serial=serial,
        path_len=path_len,
        crl_urls=crl_urls,
        key_usage=key_usage,
        uid=uid,
        extended_key_usage=extended_key_usage,
    )
