"""Certification path validation (a profile of RFC 5280 §6.1) and CRL checking (§6.3).

What is checked, and where the rule comes from:
- every signature in the path is SM2-with-SM3 and verifies under the issuer's key (§6.1.3 a.1);
- every certificate, the trust anchor included, is within its validity period at ``at``
  (§6.1.3 a.2; we also check the anchor, as OpenSSL does);
- issuer names chain to the next subject (§6.1.3 a.4), with the authority/subject key
  identifiers used to pick among same-named issuers (§4.2.1.1);
- every issuing certificate has basicConstraints cA (§6.1.4 k) and, when it has keyUsage,
  keyCertSign (§6.1.4 n); pathLenConstraint limits the number of non-self-issued
  intermediates below it (§6.1.4 l, m);
- unknown critical extensions are refused (§4.2, §6.1.4 o);
- revocation (§6.1.3 a.3, §6.3): a CRL from the certificate's issuer whose signature
  verifies under the issuer's key, whose issuer has cRLSign, and which is current at ``at``
  (thisUpdate <= at < nextUpdate); a listed serial revoked on or before ``at`` fails.

Not implemented (refused if marked critical): name constraints, policy processing, indirect
and delta CRLs, issuing distribution points.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from crypto.pki._asn1 import parse_extension
from crypto.pki._keys import DEFAULT_UID, verifies
from crypto.pki.certificate import Certificate
from crypto.pki.crl import CertificateList, RevocationReason
from crypto.pki.errors import PathValidationError, Reason
from crypto.pki.names import der_attributes, names_equal

MAX_PATH_DEPTH = 8
_SUPPORTED_CRITICAL = frozenset(
    {"basic_constraints", "key_usage", "extended_key_usage", "subject_alt_name"}
)
_SUPPORTED_CRL_CRITICAL: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ValidatedPath:
    """A validated path, leaf first, trust anchor last."""

    certificates: tuple[Certificate, ...]

    @property
    def leaf(self) -> Certificate:
        """The end certificate."""
        return self.certificates[0]

    @property
    def anchor(self) -> Certificate:
        """The trust anchor the path ends at."""
        return self.certificates[-1]


def _label(cert: Certificate) -> str:
    return f"{cert.subject_text} (serial {cert.serial_number:x})"


def _fail(reason: Reason, message: str, cert: Certificate) -> PathValidationError:
    return PathValidationError(reason, f"{message}: {_label(cert)}")


def _may_issue(candidate: Certificate, child: Certificate) -> bool:
    """Name chaining (§6.1.3 a.4) plus a key-identifier match when both are present.

    The key identifiers are compared first: they are cheap and rule out most candidates.
    """
    aki, ski = child.authority_key_id, candidate.subject_key_id
    if aki is not None and ski is not None and aki != ski:
        return False
    return candidate.subject_der == child.issuer_der or names_equal(candidate.subject, child.issuer)


@functools.lru_cache(maxsize=256)
def _signed_by(child: Certificate, issuer: Certificate, uids: tuple[bytes, ...]) -> bool:
    """Whether ``child``'s signature verifies under ``issuer``'s key.

    Cached (certificates compare by their exact DER): the links near a trust anchor are the
    same for every new leaf below them.
    """
    return child.has_sm2_sm3_signature and verifies(
        issuer.public_key, child.signature, child.tbs_der, uids
    )


def clear_cache() -> None:
    """Forget the verified links and decoded names (tests and cold benchmarks)."""
    _signed_by.cache_clear()
    der_attributes.cache_clear()
    parse_extension.cache_clear()


def _build_path(
    leaf: Certificate,
    intermediates: Sequence[Certificate],
    roots: Sequence[Certificate],
    uids: tuple[bytes, ...],
) -> list[Certificate]:
    """Leaf-to-anchor path, preferring trust anchors; every link's signature is verified."""
    path = [leaf]
    if leaf in roots:
        return path
    while len(path) <= MAX_PATH_DEPTH:
        child = path[-1]
        if not child.has_sm2_sm3_signature:
            raise _fail(Reason.UNSUPPORTED_ALGORITHM, "not signed with SM2-with-SM3", child)
        named = [c for c in (*roots, *intermediates) if _may_issue(c, child) and c not in path]
        if not named:
            raise _fail(Reason.ISSUER_NOT_FOUND, "no issuer certificate found for", child)
        issuer = next((c for c in named if _signed_by(child, c, uids)), None)
        if issuer is None:
            raise _fail(Reason.BAD_SIGNATURE, "signature does not verify", child)
        path.append(issuer)
        if issuer in roots:
            return path
    raise _fail(Reason.PATH_TOO_LONG, "certification path too long", leaf)


def _check_certificate(cert: Certificate, at: datetime) -> None:
    if at < cert.not_before:
        raise _fail(Reason.NOT_YET_VALID, "certificate not yet valid", cert)
    if at > cert.not_after:
        raise _fail(Reason.EXPIRED, "certificate expired", cert)
    unknown = cert.critical_extensions - _SUPPORTED_CRITICAL
    if unknown:
        raise _fail(Reason.UNSUPPORTED_CRITICAL_EXTENSION, "unsupported critical extension", cert)


def _check_issuers(path: Sequence[Certificate]) -> None:
    """§6.1.4 k, l, m, n over the issuing certificates, anchor first."""
    remaining: int | None = None
    for index in range(len(path) - 1, 0, -1):
        ca = path[index]
        if not ca.is_ca:
            raise _fail(Reason.NOT_A_CA, "issuer is not a CA", ca)
        if ca.key_usage is not None and "key_cert_sign" not in ca.key_usage:
            raise _fail(Reason.KEY_USAGE, "issuer lacks keyCertSign", ca)
        if remaining is not None and not ca.is_self_issued:
            if remaining <= 0:
                raise _fail(Reason.PATH_LENGTH_EXCEEDED, "path length constraint exceeded", ca)
            remaining -= 1
        if ca.path_length is not None and (remaining is None or ca.path_length < remaining):
            remaining = ca.path_length


def _check_leaf_usage(leaf: Certificate, required: frozenset[str]) -> None:
    """§4.2.1.3: when keyUsage is present, the requested uses must be asserted."""
    if leaf.key_usage is not None and not required <= leaf.key_usage:
        raise _fail(Reason.KEY_USAGE, "certificate key usage does not allow", leaf)


def _crls_for(issuer: Certificate, crls: Iterable[CertificateList]) -> list[CertificateList]:
    return [
        c
        for c in crls
        if names_equal(c.issuer, issuer.subject)
        and (c.authority_key_id is None or issuer.subject_key_id in (None, c.authority_key_id))
    ]


def _check_crl(
    crl: CertificateList, issuer: Certificate, at: datetime, uids: tuple[bytes, ...]
) -> None:
    """§6.3.3: CRL signature under the issuer's key, cRLSign, currency at ``at``."""
    if crl.critical_extensions - _SUPPORTED_CRL_CRITICAL or crl.entry_critical_extensions:
        raise _fail(Reason.CRL_UNSUPPORTED, "CRL has unsupported critical extensions", issuer)
    if issuer.key_usage is not None and "crl_sign" not in issuer.key_usage:
        raise _fail(Reason.KEY_USAGE, "CRL issuer lacks cRLSign", issuer)
    if not (
        crl.has_sm2_sm3_signature and verifies(issuer.public_key, crl.signature, crl.tbs_der, uids)
    ):
        raise _fail(Reason.CRL_BAD_SIGNATURE, "CRL signature does not verify for", issuer)
    if at < crl.this_update:
        raise _fail(Reason.CRL_NOT_YET_VALID, "CRL not yet valid for", issuer)
    if crl.next_update is None or at >= crl.next_update:
        raise _fail(Reason.CRL_EXPIRED, "CRL is past its nextUpdate for", issuer)


def _check_revocation(
    cert: Certificate,
    issuer: Certificate,
    crls: Sequence[CertificateList],
    at: datetime,
    uids: tuple[bytes, ...],
    *,
    require_crl: bool,
) -> None:
    candidates = _crls_for(issuer, crls)
    if not candidates:
        if require_crl:
            raise _fail(Reason.REVOCATION_UNKNOWN, "no CRL from the issuer of", cert)
        return
    for crl in candidates:
        _check_crl(crl, issuer, at, uids)
        for entry in crl.revoked:
            if (
                entry.serial_number == cert.serial_number
                and entry.revoked_at <= at
                and entry.reason is not RevocationReason.REMOVE_FROM_CRL
            ):
                raise _fail(Reason.REVOKED, "certificate revoked", cert)


def validate_chain(
    leaf: Certificate,
    intermediates: Sequence[Certificate],
    trust_roots: Sequence[Certificate],
    *,
    at: datetime,
    crls: Sequence[CertificateList] = (),
    required_key_usage: Iterable[str] = ("digital_signature",),
    require_crl: bool = False,
    uids: tuple[bytes, ...] = (DEFAULT_UID,),
) -> ValidatedPath:
    """Validate ``leaf`` up to one of ``trust_roots`` at time ``at``; raise on failure.

    ``crls`` are checked for every certificate whose issuer published one; with
    ``require_crl`` every non-anchor certificate must be covered. ``uids`` are the SM2 user
    IDs signatures may use: the GM/T 0009 default, plus ``OPENSSL_IMPLICIT_UID`` to accept
    what OpenSSL 3.0 signs without ``-sigopt distid``. Raises ``PathValidationError`` whose
    ``reason`` says which rule failed.
    """
    if at.tzinfo is None:
        raise PathValidationError(Reason.INVALID_REQUEST, "validation time must be aware")
    path = _build_path(leaf, intermediates, trust_roots, uids)
    for cert in path:
        _check_certificate(cert, at)
    _check_issuers(path)
    _check_leaf_usage(leaf, frozenset(required_key_usage))
    for cert, issuer in itertools.pairwise(path):
        _check_revocation(cert, issuer, crls, at, uids, require_crl=require_crl)
    return ValidatedPath(tuple(path))
