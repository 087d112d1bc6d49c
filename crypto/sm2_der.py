"""Strict DER codecs for SM2 signatures and ciphertexts (GM/T 0009 §7.2, §7.3).

Hand-written because both structures are tiny and fixed, and a verifier must be strict:
asn1crypto accepts non-minimal encodings, which would make signatures malleable. Rules:
definite minimal lengths, minimal non-negative INTEGERs, no trailing bytes. Raises
``MalformedInput`` with a client-safe detail (never the input bytes).

- Signature: ``SEQUENCE { r INTEGER, s INTEGER }``
- Ciphertext: ``SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING (32), ciphertext OCTET STRING }``

``read_signature`` also takes a signature as base64 text, the form APIs carry it in.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from crypto.errors import MalformedInput

_SEQUENCE: Final = 0x30
_INTEGER: Final = 0x02
_OCTET_STRING: Final = 0x04
_SHORT_FORM_MAX: Final = 0x80
_MAX_LENGTH_OCTETS: Final = 4
HASH_SIZE: Final = 32
COORD_SIZE: Final = 32


def _len(n: int) -> bytes:
    if n < _SHORT_FORM_MAX:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def _int(value: int) -> bytes:
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _read(data: bytes, pos: int, tag: int, what: str) -> tuple[bytes, int]:
    """Read one TLV with ``tag`` at ``pos``; return (value, next position)."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise MalformedInput(f"{what}: unexpected or missing DER element")
    first = data[pos + 1]
    pos += 2
    if first < _SHORT_FORM_MAX:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > _MAX_LENGTH_OCTETS or pos + count > len(data):
            raise MalformedInput(f"{what}: bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < _SHORT_FORM_MAX or data[pos] == 0:
            raise MalformedInput(f"{what}: non-minimal DER length")
        pos += count
    if pos + length > len(data):
        raise MalformedInput(f"{what}: truncated DER")
    return data[pos : pos + length], pos + length


def _read_int(data: bytes, pos: int, what: str) -> tuple[int, int]:
    raw, pos = _read(data, pos, _INTEGER, what)
    if not raw or raw[0] & 0x80:
        raise MalformedInput(f"{what}: negative or empty INTEGER")
    if len(raw) > 1 and raw[0] == 0 and not raw[1] & 0x80:
        raise MalformedInput(f"{what}: non-minimal INTEGER")
    return int.from_bytes(raw, "big"), pos


def _sequence(data: bytes, what: str) -> bytes:
    body, end = _read(data, 0, _SEQUENCE, what)
    if end != len(data):
        raise MalformedInput(f"{what}: trailing data after DER")
    return body


def encode_signature(r: int, s: int) -> bytes:
    """DER ``SEQUENCE { r, s }``."""
    return _tlv(_SEQUENCE, _int(r) + _int(s))


def decode_signature(der: bytes) -> tuple[int, int]:
    """Parse a DER signature strictly; range checks are the verifier's job."""
    body = _sequence(der, "signature")
    r, pos = _read_int(body, 0, "signature")
    s, pos = _read_int(body, pos, "signature")
    if pos != len(body):
        raise MalformedInput("signature: unexpected DER element")
    return r, s


def encode_ciphertext(x: int, y: int, c3: bytes, c2: bytes) -> bytes:
    """GM/T 0009 DER ciphertext from C1 = (x, y), C3 (hash) and C2."""
    return _tlv(_SEQUENCE, _int(x) + _int(y) + _tlv(_OCTET_STRING, c3) + _tlv(_OCTET_STRING, c2))


def decode_ciphertext(der: bytes) -> tuple[int, int, bytes, bytes]:
    """Parse a GM/T 0009 DER ciphertext strictly into (x, y, C3, C2)."""
    body = _sequence(der, "ciphertext")
    x, pos = _read_int(body, 0, "ciphertext")
    y, pos = _read_int(body, pos, "ciphertext")
    c3, pos = _read(body, pos, _OCTET_STRING, "ciphertext")
    c2, pos = _read(body, pos, _OCTET_STRING, "ciphertext")
    if pos != len(body) or len(c3) != HASH_SIZE or not c2:
        raise MalformedInput("ciphertext: bad structure")
    if x.bit_length() > COORD_SIZE * 8 or y.bit_length() > COORD_SIZE * 8:
        raise MalformedInput("ciphertext: C1 coordinate too large")
    return x, y, c3, c2


def read_signature(data: bytes) -> bytes:
    """A signature file's DER ``SEQUENCE { r, s }``, given as DER or as base64 text.

    APIs carry signatures as base64 in JSON (the compliance sign-off route does), tools write
    DER (``openssl pkeyutl``, ``anbao crypto sm2 sign``): an offline check takes either, told
    apart by content (a DER signature is never base64 text: it starts with the octet 0x30 and
    holds non-ASCII octets; base64 of one starts with "ME" or "MI"). Whitespace and line
    breaks around or inside base64 are ignored. Raises ``MalformedInput``.
    """
    try:
        decode_signature(data)
    except MalformedInput:
        pass
    else:
        return data
    text = b"".join(data.split())
    try:
        der = base64.b64decode(text, validate=True)
        decode_signature(der)
    except (binascii.Error, ValueError, MalformedInput):
        raise MalformedInput("signature: neither DER nor base64 of a DER SM2 signature") from None
    return der
