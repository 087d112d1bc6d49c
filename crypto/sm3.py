"""SM3 hash (GB/T 32905-2016) and HMAC-SM3 (OID 1.2.156.10197.1.401.2): primitives.

Backed by pyca/cryptography (its bundled OpenSSL), which already ships SM3 and HMAC-SM3 at
native speed: nothing here is hand-written except the thin, typed API.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _hmac

from crypto.errors import InvalidSignature

DIGEST_SIZE: Final = 32
BLOCK_SIZE: Final = 64
OID: Final = "1.2.156.10197.1.401"
HMAC_OID: Final = "1.2.156.10197.1.401.2"


def digest(data: bytes) -> bytes:
    """One-shot SM3 digest (32 bytes)."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


class Hash:
    """Streaming SM3: ``update`` any number of times, then ``finalize`` once."""

    def __init__(self, data: bytes = b"") -> None:
        self._h = hashes.Hash(hashes.SM3())
        if data:
            self._h.update(data)

    def update(self, data: bytes) -> None:
        """Absorb more data."""
        self._h.update(data)

    def copy(self) -> Hash:
        """An independent copy of the current state (for prefix hashing, e.g. SM2's Z)."""
        new = Hash.__new__(Hash)
        new._h = self._h.copy()
        return new

    def finalize(self) -> bytes:
        """The digest; the object cannot be used afterwards."""
        return self._h.finalize()


def hmac(key: bytes, data: bytes) -> bytes:
    """One-shot HMAC-SM3 (32 bytes)."""
    mac = HMAC(key)
    mac.update(data)
    return mac.finalize()


def verify_hmac(key: bytes, data: bytes, tag: bytes) -> None:
    """Check an HMAC-SM3 tag in constant time; raise InvalidSignature on mismatch."""
    mac = HMAC(key)
    mac.update(data)
    mac.verify(tag)


class HMAC:
    """Streaming HMAC-SM3."""

    def __init__(self, key: bytes) -> None:
        self._h = _hmac.HMAC(key, hashes.SM3())

    def update(self, data: bytes) -> None:
        """Absorb more data."""
        self._h.update(data)

    def finalize(self) -> bytes:
        """The 32-byte tag; the object cannot be used afterwards."""
        return self._h.finalize()

    def verify(self, tag: bytes) -> None:
        """Constant-time comparison; raise InvalidSignature on mismatch."""
        try:
            self._h.verify(tag)
        except _PycaInvalidSignature as exc:
            raise InvalidSignature("HMAC-SM3 tag mismatch") from exc
