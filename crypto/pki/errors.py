"""Errors of the PKI recipes, each with a stable ``reason`` under the package's base class.

``crypto.errors.CertificateError`` stays the one class callers catch; the subclasses say
whether the input did not parse (``MalformedCertificateError``) or parsed but is not acceptable
(``PathValidationError``), and ``reason`` says why, as a stable snake_case value an API or a
CLI can show. Details name certificates by subject and serial only: public data.
"""

from __future__ import annotations

from enum import StrEnum

from crypto.errors import CertificateError


class Reason(StrEnum):
    """Why a certificate, CSR, CRL or path was refused. Values are stable API."""

    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUER_NOT_FOUND = "issuer_not_found"
    NAME_MISMATCH = "name_mismatch"
    NOT_A_CA = "not_a_ca"
    PATH_LENGTH_EXCEEDED = "path_length_exceeded"
    PATH_TOO_LONG = "path_too_long"
    KEY_USAGE = "key_usage"
    UNSUPPORTED_CRITICAL_EXTENSION = "unsupported_critical_extension"
    REVOKED = "revoked"
    CRL_BAD_SIGNATURE = "crl_bad_signature"
    CRL_EXPIRED = "crl_expired"
    CRL_NOT_YET_VALID = "crl_not_yet_valid"
    CRL_UNSUPPORTED = "crl_unsupported"
    REVOCATION_UNKNOWN = "revocation_unknown"
    INVALID_REQUEST = "invalid_request"


class PkiError(CertificateError):
    """Base of the PKI errors: a ``CertificateError`` with a ``reason``."""

    reason: Reason = Reason.MALFORMED

    def __init__(self, reason: Reason, detail: str | None = None) -> None:
        self.reason = reason
        super().__init__(detail)


class MalformedCertificateError(PkiError):
    """The bytes are not a well-formed certificate, CSR, CRL or name (truncated DER, bad PEM…)."""

    code = "crypto_certificate_malformed"
    title = "Malformed certificate, request or CRL"

    def __init__(self, detail: str | None = None, reason: Reason = Reason.MALFORMED) -> None:
        super().__init__(reason, detail)


class PathValidationError(PkiError):
    """A well-formed certificate, CSR, CRL or path fails validation (RFC 5280 §6)."""

    code = "crypto_certificate_invalid"
    title = "Certificate validation failed"

    @property
    def no_path(self) -> bool:
        """No path to a trust anchor could be built (an issuer not given, an unknown root, a
        path that does not close within the depth limit): ETSI EN 319 102-1 calls this
        NO_CERTIFICATE_CHAIN_FOUND, an indeterminate outcome rather than a failure."""
        return self.reason in (Reason.ISSUER_NOT_FOUND, Reason.PATH_TOO_LONG)


def invalid_request(detail: str) -> MalformedCertificateError:
    """A builder was asked for something it will not make (bad serial, mismatched CA key…)."""
    return MalformedCertificateError(detail, Reason.INVALID_REQUEST)
