"""The seam between the PKI recipes and the SM2 primitive (``crypto.sm2``).

Certificates, CSRs and CRLs are signed with SM2-with-SM3 over the DER of their to-be-signed
part, with a user ID in the Z pre-hash (GB/T 32918.2 §6.1). The ID defaults to GM/T 0009's
"1234567812345678", which GmSSL, Tongsuo and BouncyCastle use for certificates. OpenSSL 3.0
differs: with no ``distid`` option it signs and verifies with an *empty* ID, so its CLI needs
``-sigopt/-vfyopt distid:1234567812345678`` for certificates and CSRs, and cannot verify a CRL
under any other ID than the empty one (``openssl crl`` has no ``-vfyopt``; ``openssl verify``
ignores ``-vfyopt`` for CRLs). ``OPENSSL_IMPLICIT_UID`` names that empty ID so callers can opt
in to it explicitly.
"""

from __future__ import annotations

from typing import Protocol

from crypto.errors import CryptoError
from crypto.pki.errors import MalformedCertificateError

DEFAULT_UID = b"1234567812345678"
OPENSSL_IMPLICIT_UID = b""


class VerifyingKey(Protocol):
    """What the PKI needs of an SM2 public key."""

    def to_bytes(self) -> bytes:
        """The uncompressed point 04||x||y."""
        ...

    def verify(self, signature: bytes, data: bytes, *, uid: bytes = ...) -> None:
        """Raise ``crypto.errors.InvalidSignature`` unless the DER signature verifies."""
        ...


class SigningKey(Protocol):
    """What the PKI needs of an SM2 private key."""

    def sign(self, data: bytes, *, uid: bytes = ...) -> bytes:
        """DER SEQUENCE { r, s } over ``data`` with the Z pre-hash of ``uid``."""
        ...

    def public_key(self) -> VerifyingKey:
        """The matching public key."""
        ...


def sign(key: SigningKey, data: bytes, uid: bytes) -> bytes:
    """DER SM2 signature of ``data``."""
    return key.sign(data, uid=uid)


def public_key_from_point(point: bytes) -> VerifyingKey:
    """Load a public key from 04||x||y, checking it is on the curve (``crypto.sm2``)."""
    from crypto import sm2  # noqa: PLC0415 - the primitive loads its native backend lazily

    try:
        return sm2.PublicKey.from_bytes(point)
    except CryptoError as exc:
        raise MalformedCertificateError("the SM2 public key is not a valid curve point") from exc


def verifies(key: VerifyingKey, signature: bytes, data: bytes, uids: tuple[bytes, ...]) -> bool:
    """True if ``signature`` verifies under any of ``uids`` (in order)."""
    for uid in uids:
        try:
            key.verify(signature, data, uid=uid)
        except CryptoError:
            continue
        return True
    return False
