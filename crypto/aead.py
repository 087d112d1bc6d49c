"""Misuse-resistant SM4-GCM recipe: ``seal``/``open`` with random IVs and a versioned blob.

This is the API the rest of the platform calls for field and record encryption. Callers cannot
choose an IV, so they cannot reuse one; the blob carries a version byte so the format can move
(e.g. to a nonce-misuse-resistant mode) without guessing. Random 96-bit IVs are safe for up to
2**32 messages per key (NIST SP 800-38D §8.3): rotate keys well before that.

Blob layout, version 1::

    0x01 || iv (12 bytes) || ciphertext || tag (16 bytes)

The version byte is bound to the tag through the AAD (``0x01 || aad``) and the IV by GCM, so a
mislabelled version or a truncated header fails authentication, not just parsing.
"""

from __future__ import annotations

import secrets
from typing import Final

from crypto import sm4
from crypto.errors import DecryptionFailed

VERSION: Final = 1
KEY_SIZE: Final = sm4.KEY_SIZE
_HEADER: Final = bytes([VERSION])
OVERHEAD: Final = len(_HEADER) + sm4.GCM_IV_SIZE + sm4.GCM_TAG_SIZE


def generate_key() -> bytes:
    """A fresh random 128-bit SM4 key from the OS CSPRNG."""
    return secrets.token_bytes(KEY_SIZE)


def seal(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """Encrypt and authenticate ``plaintext``; ``aad`` is authenticated, not stored."""
    iv = secrets.token_bytes(sm4.GCM_IV_SIZE)
    return _HEADER + iv + sm4.gcm_encrypt(key, iv, plaintext, _HEADER + aad)


def open(key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    """Authenticate and decrypt a blob from ``seal``; DecryptionFailed on any problem."""
    if len(blob) < OVERHEAD or blob[:1] != _HEADER:
        raise DecryptionFailed
    iv = blob[1 : 1 + sm4.GCM_IV_SIZE]
    return sm4.gcm_decrypt(key, iv, blob[1 + sm4.GCM_IV_SIZE :], _HEADER + aad)
