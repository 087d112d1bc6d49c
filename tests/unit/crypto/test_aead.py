"""The seal/open recipe: round trips, versioning, tamper detection, random IVs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import aead
from crypto.errors import DecryptionFailed, InvalidKey

KEY = aead.generate_key()


@settings(max_examples=25)
@given(data=st.binary(max_size=300), aad=st.binary(max_size=40))
def test_round_trip(data, aad):
    blob = aead.seal(KEY, data, aad)
    assert blob[0] == aead.VERSION
    assert len(blob) == len(data) + aead.OVERHEAD
    assert aead.open(KEY, blob, aad) == data


def test_ivs_are_fresh():
    assert aead.seal(KEY, b"same", b"") != aead.seal(KEY, b"same", b"")


@settings(max_examples=25)
@given(position=st.integers(min_value=0, max_value=aead.OVERHEAD + 4), bit=st.integers(0, 7))
def test_any_bit_flip_fails(position, bit):
    blob = bytearray(aead.seal(KEY, b"12345", b"ctx"))
    blob[position] ^= 1 << bit
    with pytest.raises(DecryptionFailed):
        aead.open(KEY, bytes(blob), b"ctx")


@pytest.mark.parametrize(
    ("key", "blob_fn", "aad"),
    [
        (KEY, lambda b: b[:-1], b""),
        (KEY, lambda b: b"\x02" + b[1:], b""),
        (KEY, lambda b: b, b"other"),
        (aead.generate_key(), lambda b: b, b""),
        (KEY, lambda b: b[: aead.OVERHEAD - 1], b""),
    ],
)
def test_open_rejects(key, blob_fn, aad):
    with pytest.raises(DecryptionFailed):
        aead.open(key, blob_fn(aead.seal(KEY, b"payload")), aad)


def test_bad_key_size():
    with pytest.raises(InvalidKey):
        aead.seal(b"short", b"x")
