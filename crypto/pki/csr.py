"""PKCS#10 certification requests (RFC 2986) with SM2-with-SM3.

The requester signs its own request, proving possession of the private key (RFC 2986 §3);
a CA verifies that self-signature before issuing. Attributes are left empty: the CA decides
the profile (basicConstraints, keyUsage, the seal holder's USCC), not the requester.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import csr, keys, x509

from crypto.pki import _asn1
from crypto.pki._keys import DEFAULT_UID, SigningKey, VerifyingKey, public_key_from_point, sign
from crypto.pki._keys import verifies as _verifies
from crypto.pki.errors import MalformedCertificateError, PathValidationError, Reason

_PEM_LABELS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")


@dataclass(frozen=True)
class CertificateRequest:
    """A parsed PKCS#10 request: its exact DER and the asn1crypto view."""

    der: bytes
    asn1: csr.CertificationRequest = field(repr=False, compare=False)

    @classmethod
    def load(cls, data: bytes) -> CertificateRequest:
        """Parse PEM or DER; raise ``MalformedCertificateError`` if malformed or not SM2."""
        try:
            der = _asn1.unarmor(data, _PEM_LABELS)
            request = csr.CertificationRequest.load(der, strict=True)
            _asn1.fully_parse(request)
            _asn1.sm2_point(request["certification_request_info"]["subject_pk_info"])
        except _asn1.PARSE_ERRORS as exc:
            raise MalformedCertificateError("not a well-formed SM2 PKCS#10 request") from exc
        return cls(der=der, asn1=request)

    def pem(self) -> bytes:
        """PEM text ("CERTIFICATE REQUEST")."""
        return _asn1.armor("CERTIFICATE REQUEST", self.der)

    @property
    def subject(self) -> x509.Name:
        """The requested subject name."""
        name: x509.Name = self.asn1["certification_request_info"]["subject"]
        return name

    @property
    def public_key_bytes(self) -> bytes:
        """The requester's SM2 point 04||x||y."""
        return _asn1.sm2_point(self.asn1["certification_request_info"]["subject_pk_info"])

    @property
    def public_key(self) -> VerifyingKey:
        """The requester's public key, as an SM2 primitive key."""
        return public_key_from_point(self.public_key_bytes)

    def verify(self, *, uids: tuple[bytes, ...] = (DEFAULT_UID,)) -> None:
        """Check the self-signature (RFC 2986 §3); raise ``PathValidationError`` if it fails."""
        if not _asn1.is_sm2_sm3(self.asn1["signature_algorithm"]):
            raise PathValidationError(Reason.UNSUPPORTED_ALGORITHM, "request is not SM2-with-SM3")
        info_der = bytes(self.asn1["certification_request_info"].dump())
        signature = bytes(self.asn1["signature"].native)
        if not _verifies(self.public_key, signature, info_der, uids):
            raise PathValidationError(Reason.BAD_SIGNATURE, "request self-signature is invalid")


def build_csr(
    key: SigningKey, subject: x509.Name, *, uid: bytes = DEFAULT_UID
) -> CertificateRequest:
    """A PKCS#10 request for ``key``'s public key, self-signed with SM2-with-SM3."""
    point = key.public_key().to_bytes()
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": subject,
            "subject_pk_info": keys.PublicKeyInfo.load(_asn1.spki_for(point).dump()),
            "attributes": [],
        }
    )
    info_der = info.dump()
    request = csr.CertificationRequest(
        {
            "certification_request_info": csr.CertificationRequestInfo.load(info_der),
            "signature_algorithm": _asn1.sm2_sm3_algorithm(),
            "signature": sign(key, info_der, uid),
        }
    )
    return CertificateRequest.load(request.dump())
