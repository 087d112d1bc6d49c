"""SM4 block cipher (GB/T 32907-2016) modes: primitives, bytes in, bytes out.

Backed by pyca/cryptography (native, constant-time table-free where its OpenSSL is). These are
the dangerous tier: the caller chooses IVs and must never reuse a (key, IV) pair in CTR or
GCM. Platform code should use ``crypto.aead.seal``/``open`` instead.

- ``encrypt_block``/``decrypt_block``: raw ECB on exactly one 16-byte block, for building
  other constructions and for the GB/T 32907 vectors; there is no multi-block ECB on purpose.
- CBC with PKCS#7 padding; CTR (16-byte initial counter block); GCM with a 12-byte IV and a
  16-byte tag appended to the ciphertext (RFC 8998 §3.1).
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto.errors import DecryptionFailed, InvalidKey, MalformedInput

KEY_SIZE: Final = 16
BLOCK_SIZE: Final = 16
GCM_IV_SIZE: Final = 12
GCM_TAG_SIZE: Final = 16


def _algo(key: bytes) -> algorithms.SM4:
    if len(key) != KEY_SIZE:
        raise InvalidKey("SM4 key must be 16 bytes")
    return algorithms.SM4(key)


def _need(value: bytes, size: int, what: str) -> None:
    if len(value) != size:
        raise MalformedInput(f"{what} must be {size} bytes")


def encrypt_block(key: bytes, block: bytes) -> bytes:
    """Encrypt one 16-byte block (raw ECB)."""
    _need(block, BLOCK_SIZE, "SM4 block")
    enc = Cipher(_algo(key), modes.ECB()).encryptor()  # noqa: S305 - single raw block by design
    return enc.update(block) + enc.finalize()


def decrypt_block(key: bytes, block: bytes) -> bytes:
    """Decrypt one 16-byte block (raw ECB)."""
    _need(block, BLOCK_SIZE, "SM4 block")
    dec = Cipher(_algo(key), modes.ECB()).decryptor()  # noqa: S305 - single raw block by design
    return dec.update(block) + dec.finalize()


def cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """CBC with PKCS#7 padding; ``iv`` must be 16 unpredictable bytes.

    Pads only the last block and encrypts into one preallocated buffer: a generic padder copies
    the whole message again, which shows on large inputs (docs/crypto.md, "Performance").
    """
    _need(iv, BLOCK_SIZE, "CBC IV")
    enc = Cipher(_algo(key), modes.CBC(iv)).encryptor()
    full = len(plaintext) - len(plaintext) % BLOCK_SIZE
    pad = BLOCK_SIZE - len(plaintext) % BLOCK_SIZE
    view = memoryview(plaintext)
    tail = bytes(view[full:]) + bytes([pad]) * pad  # GB/T 17964 / RFC 5652 §6.3 padding
    out = bytearray(full + 3 * BLOCK_SIZE)  # update_into needs len(data) + BLOCK_SIZE - 1
    written = enc.update_into(view[:full], out)
    written += enc.update_into(tail, memoryview(out)[written:])
    enc.finalize()
    return bytes(memoryview(out)[:written])


def cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Undo ``cbc_encrypt``. CBC is unauthenticated: a padding error is DecryptionFailed."""
    _need(iv, BLOCK_SIZE, "CBC IV")
    if not ciphertext or len(ciphertext) % BLOCK_SIZE:
        raise DecryptionFailed
    dec = Cipher(_algo(key), modes.CBC(iv)).decryptor()
    padded = dec.update(ciphertext) + dec.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise DecryptionFailed from exc


def ctr_crypt(key: bytes, counter_block: bytes, data: bytes) -> bytes:
    """CTR keystream XOR (encryption and decryption are the same operation)."""
    _need(counter_block, BLOCK_SIZE, "CTR initial counter block")
    enc = Cipher(_algo(key), modes.CTR(counter_block)).encryptor()
    out = enc.update(data)
    enc.finalize()  # CTR has no final block: returns b""
    return out


ctr_encrypt = ctr_crypt
ctr_decrypt = ctr_crypt


def gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """SM4-GCM (RFC 8998): returns ``ciphertext || tag`` (16-byte tag)."""
    _need(iv, GCM_IV_SIZE, "GCM IV")
    enc = Cipher(_algo(key), modes.GCM(iv)).encryptor()
    if aad:
        enc.authenticate_additional_data(aad)
    out = bytearray(len(plaintext) + GCM_TAG_SIZE + BLOCK_SIZE)  # one buffer, one final copy
    written = enc.update_into(plaintext, out)
    enc.finalize()
    out[written : written + GCM_TAG_SIZE] = enc.tag
    return bytes(memoryview(out)[: written + GCM_TAG_SIZE])


def gcm_decrypt(key: bytes, iv: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """Verify the tag and decrypt ``ciphertext || tag``; DecryptionFailed on any mismatch."""
    _need(iv, GCM_IV_SIZE, "GCM IV")
    if len(data) < GCM_TAG_SIZE:
        raise DecryptionFailed
    body, tag = data[:-GCM_TAG_SIZE], data[-GCM_TAG_SIZE:]
    dec = Cipher(_algo(key), modes.GCM(iv, tag)).decryptor()
    if aad:
        dec.authenticate_additional_data(aad)
    out = dec.update(body)
    try:
        return out + dec.finalize()
    except InvalidTag as exc:
        raise DecryptionFailed from exc
