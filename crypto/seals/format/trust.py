"""Certificate checks of a seal verification: chains, and revocation at the signing time.

Chains are validated with ``crypto.pki.validate_chain`` at the signing time. Revocation is
judged here rather than by ``validate_chain``'s CRL rule, because a signature is checked
against CRLs issued *after* it was made (RFC 5280 §6.3 judges currency at validation time):
a CRL whose signature verifies under the issuer's key and that lists the serial with a
revocationDate at or before the signing time → fail; a listing after the signing time →
pass (the signature predates the revocation); no listing but a CRL issued at or after the
signing time, or current at it (thisUpdate <= t < nextUpdate) → pass; otherwise, or with no
CRL from the issuer → indeterminate.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TypeVar

from crypto.errors import CryptoError
from crypto.pki import (
    DEFAULT_UID,
    OPENSSL_IMPLICIT_UID,
    Certificate,
    CertificateList,
    PathValidationError,
    RevocationReason,
    RevokedCertificate,
    ValidatedPath,
    names_equal,
    validate_chain,
)
from crypto.seals.format import asn1
from crypto.seals.format._cache import Lru
from crypto.seals.format.errors import MalformedSeal
from crypto.seals.format.report import Check, Status


@dataclass(frozen=True)
class Trust:
    """What the verifier trusts and knows: roots, intermediates, CRLs, accepted SM2 user IDs.

    ``uids`` accepts the GM/T 0009 default (BouncyCastle/ofdrw, GmSSL, Anbao) and OpenSSL
    3.0's implicit empty ID for certificates and CRLs signed by OpenSSL tools.
    """

    roots: tuple[Certificate, ...] = ()
    intermediates: tuple[Certificate, ...] = ()
    crls: tuple[CertificateList, ...] = ()
    uids: tuple[bytes, ...] = (DEFAULT_UID, OPENSSL_IMPLICIT_UID)

    @cached_property
    def chain_key(self) -> tuple[object, ...]:
        """The exact bytes path validation depends on (a cache key)."""
        return (
            tuple(c.der for c in self.roots),
            tuple(c.der for c in self.intermediates),
            self.uids,
        )

    @cached_property
    def crl_key(self) -> tuple[bytes, ...]:
        """The exact bytes of the CRLs (a cache key)."""
        return tuple(c.der for c in self.crls)


_PATHS: Lru[tuple[ValidatedPath, tuple[tuple[datetime, datetime], ...]]] = Lru(512)
_CRL_SIGNATURES: Lru[bool] = Lru(512)


#: Check codes (stable API, docs/e-seals.md).
NO_CHAIN = "no_certificate_chain_found"
CRL_SIGNATURE_INVALID = "crl_signature_invalid"
NO_CRL = "no_crl"
CRL_NOT_CURRENT = "crl_not_current"
REVOKED = "revoked"


def chain_verdict(exc: PathValidationError) -> tuple[Status, str]:
    """(status, code) of a failed path validation, after ETSI EN 319 102-1.

    No path to a trust anchor (an issuer that is not given, an unknown root, a path that does
    not close within the depth limit) is INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND: the
    verifier lacks material, the signature may well be good. Every other reason (a signature
    in the path that does not verify, validity at the time, usage, constraints) fails, coded
    by the PKI reason.
    """
    if exc.no_path:
        return Status.INDETERMINATE, NO_CHAIN
    return Status.FAIL, str(exc.reason)


def _within(periods: tuple[tuple[datetime, datetime], ...], at: datetime) -> bool:
    return all(start <= at <= end for start, end in periods)


def chain_check(
    name: str, cert: Certificate, trust: Trust, at: datetime
) -> tuple[Check, ValidatedPath | None]:
    """Validate ``cert`` to the trusted roots at ``at`` with digitalSignature usage.

    Path building, signatures, names, basic constraints, key usage and critical extensions
    do not depend on time: a path validated once for the same certificate and trust is
    reused when every certificate of it is within its validity period at ``at``; otherwise
    (or on a miss) ``validate_chain`` runs and gives the exact reason.
    """
    if not trust.roots:
        return Check(name, Status.INDETERMINATE, "no trust roots given", NO_CHAIN), None
    key = (cert.der, trust.chain_key)
    cached = _PATHS.get(key)
    if cached is not None and _within(cached[1], at):
        path = cached[0]
    else:
        try:
            path = validate_chain(cert, trust.intermediates, trust.roots, at=at, uids=trust.uids)
        except PathValidationError as exc:
            status, code = chain_verdict(exc)
            return Check(name, status, f"{exc.reason}: {exc.detail}", code), None
        _PATHS.put(key, (path, tuple((c.not_before, c.not_after) for c in path.certificates)))
    anchor = path.anchor.subject_text
    return Check(
        name,
        Status.PASS,
        f"chains to {anchor} at {at.isoformat()} ({len(path.certificates)} certificates)",
    ), path


def _crl_signed_by(crl: CertificateList, issuer: Certificate, uids: tuple[bytes, ...]) -> bool:
    return _CRL_SIGNATURES.get_or(
        (crl.der, issuer.der, uids), lambda: _check_crl_signature(crl, issuer, uids)
    )


def _check_crl_signature(
    crl: CertificateList, issuer: Certificate, uids: tuple[bytes, ...]
) -> bool:
    if not crl.has_sm2_sm3_signature:
        return False
    for uid in uids:
        try:
            issuer.public_key.verify(crl.signature, crl.tbs_der, uid=uid)
        except CryptoError:
            continue
        return True
    return False


@dataclass(frozen=True)
class _IssuerCrls:
    """The CRLs of one issuer whose signatures verify, indexed by revoked serial, and how many
    CRLs naming the issuer were refused because their signature does not verify."""

    currencies: tuple[tuple[datetime, datetime | None], ...]
    revoked: dict[int, tuple[RevokedCertificate, ...]]
    refused: int = 0


_ISSUER_CRLS: Lru[_IssuerCrls] = Lru(256)


def _issuer_crls(issuer: Certificate, trust: Trust) -> _IssuerCrls:
    """Cached by the exact bytes of the issuer, the CRLs and the accepted IDs."""

    def compute() -> _IssuerCrls:
        named = [c for c in trust.crls if names_equal(c.issuer, issuer.subject)]
        crls = [c for c in named if _crl_signed_by(c, issuer, trust.uids)]
        revoked: dict[int, list[RevokedCertificate]] = {}
        for crl in crls:
            for entry in crl.revoked:
                revoked.setdefault(entry.serial_number, []).append(entry)
        currencies = tuple((c.this_update, c.next_update) for c in crls)
        refused = len(named) - len(crls)
        return _IssuerCrls(currencies, {k: tuple(v) for k, v in revoked.items()}, refused)

    key = (issuer.der, trust.crl_key, trust.uids)
    return _ISSUER_CRLS.get_or(key, compute)


def _one(
    cert: Certificate, issuer: Certificate, trust: Trust, at: datetime
) -> tuple[Status, str, str | None]:
    """(status, reason, code) of one certificate's revocation at ``at``."""
    crls = _issuer_crls(issuer, trust)
    serial = cert.serial_number
    label = f"{cert.subject_text} (serial {serial:x})"
    refused = (
        f"; {crls.refused} CRL(s) naming the issuer refused: signature does not verify"
        if crls.refused
        else ""
    )
    if not crls.currencies:
        if crls.refused:
            reason = f"the CRL from the issuer of {label} does not verify under the issuer's key"
            return Status.INDETERMINATE, reason, CRL_SIGNATURE_INVALID
        return Status.INDETERMINATE, f"no CRL from the issuer of {label}", NO_CRL
    for entry in crls.revoked.get(serial, ()):
        if entry.reason is RevocationReason.REMOVE_FROM_CRL:
            continue
        when = entry.revoked_at.isoformat()
        if entry.revoked_at <= at:
            return Status.FAIL, f"{label} revoked at {when}, before signing{refused}", REVOKED
        return Status.PASS, f"{label} revoked at {when}, after signing{refused}", None
    newest = max(start for start, _ in crls.currencies)
    current = any(start <= at and end is not None and at < end for start, end in crls.currencies)
    if newest < at and not current:
        reason = (
            f"no CRL for {label} covers the signing time (newest {newest.isoformat()}){refused}"
        )
        return Status.INDETERMINATE, reason, CRL_NOT_CURRENT
    return Status.PASS, f"{label} not revoked (CRL of {newest.isoformat()}){refused}", None


def revocation_check(path: ValidatedPath | None, trust: Trust, at: datetime) -> Check:
    """Revocation of every non-anchor certificate of ``path`` at time ``at`` (signing, or seal making)."""
    if path is None:
        return Check("revocation", Status.INDETERMINATE, "no validated certificate path")
    results = [_one(c, i, trust, at) for c, i in itertools.pairwise(path.certificates)]
    if not results:
        return Check("revocation", Status.PASS, "the signer certificate is itself a trust anchor")
    worst = next((r for r in results if r[0] is Status.FAIL), None) or next(
        (r for r in results if r[0] is Status.INDETERMINATE), results[0]
    )
    return Check("revocation", worst[0], "; ".join(r[1] for r in results), worst[2])


_T = TypeVar("_T")
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


def _blocks(data: bytes, labels: tuple[bytes, ...]) -> list[bytes]:
    """DER of each PEM block with one of ``labels``; the whole input when it is not PEM."""
    if b"-----BEGIN" not in data:
        return [data]
    out = []
    for label, body in _PEM_BLOCK.findall(data):
        if label in labels:
            try:
                out.append(base64.b64decode(b"".join(body.split()), validate=True))
            except (binascii.Error, ValueError) as exc:
                raise MalformedSeal("a PEM block is not valid base64") from exc
    return out


CERTIFICATE = "an X.509 certificate"
CRL = "a CRL"


def _x509_kind(data: bytes) -> str | None:
    """PEM text (by its labels), a DER certificate or a DER CRL; None for anything else."""
    labels = sorted({label.decode("ascii", "replace") for label, _ in _PEM_BLOCK.findall(data)})
    if labels:
        return f"PEM ({', '.join(labels)})"
    return _first_kind(data, ((CERTIFICATE, Certificate.load), (CRL, CertificateList.load)))


def _first_kind(
    data: bytes, loaders: tuple[tuple[str, Callable[[bytes], object]], ...]
) -> str | None:
    """The name of the first loader that accepts ``data``."""
    for kind, load in loaders:
        try:
            load(data)
        except CryptoError:
            continue
        return kind
    return None


def file_kind(data: bytes) -> str:
    """What ``data`` holds, in words, so that a file given in the wrong place is named as such
    (a CRL given as trust roots, a certificate given as a CRL or as the sealed file)."""
    if data[:4] == b"PK\x03\x04":
        return "a ZIP (OFD) package"
    x509 = _x509_kind(data)
    if x509 is not None:
        return x509
    sealed = _first_kind(
        data,
        (
            ("a seal (SESeal)", asn1.decode_seal),
            ("a seal signature (SES_Signature)", asn1.decode_signature),
        ),
    )
    return sealed or "none of: certificate, CRL, seal, seal signature, OFD"


def misplaced(data: bytes) -> str | None:
    """The kind of ``data`` when it is a certificate, a CRL or PEM text, which no OFD, seal or
    seal signature is (a client's mix-up, refused as bad input); None otherwise."""
    return None if data[:4] == b"PK\x03\x04" else _x509_kind(data)


def _load_all(data: bytes, label: bytes, what: str, load: Callable[[bytes], _T]) -> tuple[_T, ...]:
    """Every ``what`` of a PEM bundle (or one DER value); another kind of file is named."""
    blocks = _blocks(data, (label,))
    try:
        if blocks:
            return tuple(load(d) for d in blocks)
    except CryptoError as exc:
        if b"-----BEGIN" in data:  # the right PEM label, a broken value
            raise MalformedSeal(f"a PEM block is not {what}: {exc.detail}") from exc
    raise MalformedSeal(f"not {what}: the file holds {file_kind(data)}")


def load_certificates(data: bytes) -> tuple[Certificate, ...]:
    """Every certificate of a PEM bundle (or one DER certificate)."""
    return _load_all(data, b"CERTIFICATE", "a certificate", Certificate.load)


def load_crls(data: bytes) -> tuple[CertificateList, ...]:
    """Every CRL of a PEM bundle (or one DER CRL)."""
    return _load_all(data, b"X509 CRL", "a CRL", CertificateList.load)
