"""Certificate revocation lists (RFC 5280 §5), v2, signed with SM2-with-SM3.

Built CRLs carry nextUpdate (§5.1.2.5, required by the profile), a cRLNumber (§5.2.3) and
the authorityKeyIdentifier (§5.2.1); entries carry a reasonCode (§5.3.1) when one is given.
An empty list omits revokedCertificates entirely (§5.1.2.6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from asn1crypto import crl, x509

from crypto.pki import _asn1
from crypto.pki._keys import DEFAULT_UID, SigningKey, sign
from crypto.pki.certificate import Certificate, check_issuer
from crypto.pki.errors import MalformedCertificateError, invalid_request

_PEM_LABELS = ("X509 CRL",)
_MAX_CRL_NUMBER = 2**159  # §5.2.3: at most 20 octets


class RevocationReason(StrEnum):
    """CRLReason values (RFC 5280 §5.3.1), in asn1crypto spelling."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    CA_COMPROMISE = "ca_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"
    CERTIFICATE_HOLD = "certificate_hold"
    REMOVE_FROM_CRL = "remove_from_crl"
    PRIVILEGE_WITHDRAWN = "privilege_withdrawn"
    AA_COMPROMISE = "aa_compromise"


@dataclass(frozen=True)
class RevokedCertificate:
    """One CRL entry."""

    serial_number: int
    revoked_at: datetime
    reason: RevocationReason | None = None


@dataclass(frozen=True)
class CertificateList:
    """A parsed CRL: its exact DER and the asn1crypto view."""

    der: bytes
    asn1: crl.CertificateList = field(repr=False, compare=False)

    @classmethod
    def load(cls, data: bytes) -> CertificateList:
        """Parse PEM or DER; raise ``MalformedCertificateError`` on anything malformed."""
        try:
            der = _asn1.unarmor(data, _PEM_LABELS)
            parsed = crl.CertificateList.load(der, strict=True)
            _asn1.fully_parse(parsed)
        except _asn1.PARSE_ERRORS as exc:
            raise MalformedCertificateError("not a well-formed X.509 CRL") from exc
        return cls(der=der, asn1=parsed)

    def pem(self) -> bytes:
        """PEM text ("X509 CRL")."""
        return _asn1.armor("X509 CRL", self.der)

    @property
    def issuer(self) -> x509.Name:
        """The CRL issuer's name."""
        name: x509.Name = self.asn1.issuer
        return name

    @property
    def this_update(self) -> datetime:
        """thisUpdate (§5.1.2.4)."""
        value: datetime = self.asn1["tbs_cert_list"]["this_update"].native
        return value

    @property
    def next_update(self) -> datetime | None:
        """nextUpdate (§5.1.2.5), None when absent."""
        value: datetime | None = self.asn1["tbs_cert_list"]["next_update"].native
        return value

    @property
    def crl_number(self) -> int | None:
        """cRLNumber (§5.2.3), None when absent."""
        value = self.asn1.crl_number_value
        return None if value is None else int(value.native)

    @property
    def authority_key_id(self) -> bytes | None:
        """authorityKeyIdentifier keyIdentifier, None when absent."""
        value = self.asn1.authority_key_identifier
        return None if value is None else bytes(value)

    @property
    def critical_extensions(self) -> frozenset[str]:
        """Names (or dotted OIDs) of the critical CRL extensions."""
        return frozenset(self.asn1.critical_extensions)

    @property
    def revoked(self) -> list[RevokedCertificate]:
        """The entries, with their reason codes where present."""
        entries = []
        for entry in self.asn1["tbs_cert_list"]["revoked_certificates"]:
            reason = entry.crl_reason_value
            entries.append(
                RevokedCertificate(
                    serial_number=int(entry["user_certificate"].native),
                    revoked_at=entry["revocation_date"].native,
                    reason=None if reason is None else RevocationReason(reason.native),
                )
            )
        return entries

    @property
    def entry_critical_extensions(self) -> frozenset[str]:
        """Names of critical extensions on any entry (§5.3)."""
        names: set[str] = set()
        for entry in self.asn1["tbs_cert_list"]["revoked_certificates"]:
            names.update(entry.critical_extensions)
        return frozenset(names)

    @property
    def tbs_der(self) -> bytes:
        """The exact DER the issuer signed."""
        return bytes(self.asn1["tbs_cert_list"].dump())

    @property
    def signature(self) -> bytes:
        """The DER SM2 signature."""
        return bytes(self.asn1["signature"].native)

    @property
    def has_sm2_sm3_signature(self) -> bool:
        """Both algorithm fields say SM2-with-SM3 and agree (§5.1.1.2)."""
        outer = self.asn1["signature_algorithm"]
        inner = self.asn1["tbs_cert_list"]["signature"]
        return _asn1.is_sm2_sm3(outer) and outer.dump() == inner.dump()


def _entry(revoked: RevokedCertificate) -> dict[str, object]:
    entry: dict[str, object] = {
        "user_certificate": revoked.serial_number,
        "revocation_date": _asn1.x509_time(revoked.revoked_at),
    }
    if revoked.reason is not None:
        entry["crl_entry_extensions"] = [
            {"extn_id": "crl_reason", "critical": False, "extn_value": revoked.reason.value}
        ]
    return entry


def build_crl(
    ca_cert: Certificate,
    ca_key: SigningKey,
    *,
    revoked: Sequence[RevokedCertificate],
    now: datetime,
    next_update: timedelta,
    crl_number: int,
    uid: bytes = DEFAULT_UID,
) -> CertificateList:
    """A v2 CRL issued by ``ca_cert`` at ``now``, valid until ``now + next_update``.

    Refused unless ``ca_key`` matches ``ca_cert`` and ``ca_cert`` is a CA allowed cRLSign
    (RFC 5280 §4.2.1.3), so every CRL this builds can validate.
    """
    if now.tzinfo is None or next_update <= timedelta(0):
        raise invalid_request("now must be aware, next_update positive")
    if not 0 <= crl_number < _MAX_CRL_NUMBER:
        raise invalid_request("CRL number out of range")
    check_issuer(ca_cert, ca_key, "crl_sign")
    if any(r.serial_number <= 0 or r.revoked_at.tzinfo is None for r in revoked):
        raise invalid_request("bad revocation entry")
    extensions: list[dict[str, object]] = [{"extn_id": "crl_number", "extn_value": crl_number}]
    if ca_cert.subject_key_id is not None:
        extensions.append(
            {
                "extn_id": "authority_key_identifier",
                "extn_value": {"key_identifier": ca_cert.subject_key_id},
            }
        )
    tbs: dict[str, object] = {
        "version": "v2",
        "signature": _asn1.sm2_sm3_algorithm(),
        "issuer": ca_cert.subject,
        "this_update": _asn1.x509_time(now),
        "next_update": _asn1.x509_time(now + next_update),
        "crl_extensions": extensions,
    }
    if revoked:
        tbs["revoked_certificates"] = [_entry(r) for r in revoked]
    tbs_der = crl.TbsCertList(tbs).dump()
    signed = crl.CertificateList(
        {
            "tbs_cert_list": crl.TbsCertList.load(tbs_der),
            "signature_algorithm": _asn1.sm2_sm3_algorithm(),
            "signature": sign(ca_key, tbs_der, uid),
        }
    )
    return CertificateList.load(signed.dump())
