"""Errors raised by the crypto package.

Every error carries a stable snake_case ``code``, a short ``title`` and a client-safe
``detail``. Details never contain key material, plaintext or raw upstream text: callers may
show them to users and write them to logs.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class: anything the crypto package refuses or fails to do."""

    code = "crypto_error"
    title = "Cryptographic operation failed"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)


class BackendUnavailable(CryptoError):
    """No vetted constant-time native implementation is available for a secret operation."""

    code = "crypto_backend_unavailable"
    title = "Native cryptographic backend unavailable"


class MalformedInput(CryptoError):
    """Input bytes do not parse: truncated DER, bad hex, wrong length."""

    code = "crypto_malformed_input"
    title = "Malformed cryptographic input"


class InvalidKey(CryptoError):
    """A key is of the wrong type, off the curve, or out of range."""

    code = "crypto_invalid_key"
    title = "Invalid key"


class InvalidSignature(CryptoError):
    """A signature did not verify. Raised rather than returned, so it cannot be ignored."""

    code = "crypto_invalid_signature"
    title = "Signature verification failed"


class DecryptionFailed(CryptoError):
    """Ciphertext failed authentication or decryption; no detail about why, by design."""

    code = "crypto_decryption_failed"
    title = "Decryption failed"


class CertificateError(CryptoError):
    """A certificate, CSR or CRL is malformed or fails path validation."""

    code = "crypto_certificate_invalid"
    title = "Certificate validation failed"
