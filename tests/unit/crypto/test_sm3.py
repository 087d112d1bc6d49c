"""SM3 and HMAC-SM3: GB/T 32905 vectors, streaming equivalence, HMAC against gmssl's SM3."""

from __future__ import annotations

import pytest
from gmssl import func as gm_func
from gmssl import sm3 as gm_sm3
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import sm3
from crypto.errors import InvalidSignature
from tests.unit.crypto.conftest import load_vectors

VECTORS = load_vectors("sm3")["digest"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_standard_vectors(vector):
    message = vector["message_ascii"].encode()
    assert sm3.digest(message).hex() == vector["digest"]
    h = sm3.Hash()
    for i in range(len(message)):
        h.update(message[i : i + 1])
    assert h.finalize().hex() == vector["digest"]


def _gm_sm3(data: bytes) -> bytes:
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))


def _reference_hmac(key: bytes, data: bytes) -> bytes:
    """RFC 2104 over gmssl's independent SM3."""
    if len(key) > sm3.BLOCK_SIZE:
        key = _gm_sm3(key)
    key = key.ljust(sm3.BLOCK_SIZE, b"\0")
    inner = _gm_sm3(bytes(b ^ 0x36 for b in key) + data)
    return _gm_sm3(bytes(b ^ 0x5C for b in key) + inner)


@settings(max_examples=20)
@given(key=st.binary(min_size=1, max_size=100), data=st.binary(max_size=300))
def test_hmac_matches_independent_reference(key, data):
    tag = sm3.hmac(key, data)
    assert tag == _reference_hmac(key, data)
    sm3.verify_hmac(key, data, tag)


@settings(max_examples=20)
@given(chunks=st.lists(st.binary(max_size=200), max_size=6))
def test_streaming_equals_one_shot_and_gmssl(chunks):
    h = sm3.Hash()
    for chunk in chunks:
        h.update(chunk)
    copy = h.copy()
    whole = b"".join(chunks)
    assert h.finalize() == sm3.digest(whole) == _gm_sm3(whole) == copy.finalize()


def test_hmac_mismatch_raises():
    tag = bytearray(sm3.hmac(b"k", b"data"))
    tag[0] ^= 1
    with pytest.raises(InvalidSignature):
        sm3.verify_hmac(b"k", b"data", bytes(tag))
