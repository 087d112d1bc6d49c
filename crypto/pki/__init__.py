"""SM2 PKI recipes: X.509 v3 certificates, PKCS#10 requests, CRLs and path validation.

Everything is signed with SM2-with-SM3 (1.2.156.10197.1.501) over DER built with asn1crypto.
Builders take the clock (``now``) as an argument; validation takes the time (``at``).
Errors are ``crypto.errors.CertificateError`` subclasses carrying a stable ``reason``.
"""

from __future__ import annotations

from crypto.pki._keys import DEFAULT_UID, OPENSSL_IMPLICIT_UID, SigningKey, VerifyingKey
from crypto.pki.certificate import (
    Certificate,
    Profile,
    issue_certificate,
    key_identifier,
    make_root_ca,
    random_serial,
)
from crypto.pki.crl import CertificateList, RevocationReason, RevokedCertificate, build_crl
from crypto.pki.csr import CertificateRequest, build_csr
from crypto.pki.errors import MalformedCertificateError, PathValidationError, PkiError, Reason
from crypto.pki.names import (
    build_name,
    format_name,
    is_valid_uscc,
    names_equal,
    parse_name,
    seal_holder_name,
    uscc_of,
    with_uscc,
)
from crypto.pki.validate import ValidatedPath, validate_chain

__all__ = [
    "DEFAULT_UID",
    "OPENSSL_IMPLICIT_UID",
    "Certificate",
    "CertificateList",
    "CertificateRequest",
    "MalformedCertificateError",
    "PathValidationError",
    "PkiError",
    "Profile",
    "Reason",
    "RevocationReason",
    "RevokedCertificate",
    "SigningKey",
    "ValidatedPath",
    "VerifyingKey",
    "build_crl",
    "build_csr",
    "build_name",
    "format_name",
    "is_valid_uscc",
    "issue_certificate",
    "key_identifier",
    "make_root_ca",
    "names_equal",
    "parse_name",
    "random_serial",
    "seal_holder_name",
    "uscc_of",
    "validate_chain",
    "with_uscc",
]
