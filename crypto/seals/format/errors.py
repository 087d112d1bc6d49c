"""Errors of the e-seal recipes (GB/T 38540), under the crypto package's base class.

Each has a stable ``code`` and a client-safe ``detail`` naming the structure path or the
rule that failed, never key material. Verification does not raise for a bad signature: it
returns a report; these errors are for input that cannot be processed at all and for
signing requests that must be refused.
"""

from __future__ import annotations

from crypto.errors import CryptoError, MalformedInput


class SealError(CryptoError):
    """Base class of e-seal errors."""

    code = "seal_error"
    title = "Electronic seal operation failed"


class MalformedSeal(SealError, MalformedInput):
    """Seal, signature or package bytes that do not parse (truncated DER, wrong types…)."""

    code = "seal_malformed"
    title = "Malformed electronic seal data"


class UnsafePackage(MalformedSeal):
    """An OFD package refused for safety: path traversal, duplicates, zip bomb, too large."""

    code = "seal_unsafe_package"
    title = "Unsafe or oversized OFD package"


class InvalidPicture(MalformedSeal):
    """A seal picture of an unsupported type, malformed, or beyond the size limits."""

    code = "seal_picture_invalid"
    title = "Invalid seal picture"


class SigningRefused(SealError):
    """A seal or signature that must not be made: expired seal, key not the holder's…"""

    code = "seal_signing_refused"
    title = "Seal signing refused"
