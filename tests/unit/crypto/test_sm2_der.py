"""Strict DER codecs for SM2 signatures and ciphertexts (property tests + malformed inputs)."""

from __future__ import annotations

import pytest
from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import sm2_der
from crypto.errors import MalformedInput

ints = st.integers(min_value=0, max_value=2**256 - 1)


class _Sig(core.Sequence):
    _fields = [("r", core.Integer), ("s", core.Integer)]  # noqa: RUF012 - asn1crypto API


@settings(max_examples=50)
@given(r=ints, s=ints)
def test_signature_round_trip_matches_asn1crypto(r, s):
    der = sm2_der.encode_signature(r, s)
    assert der == _Sig({"r": r, "s": s}).dump()
    assert sm2_der.decode_signature(der) == (r, s)


@settings(max_examples=30)
@given(
    x=ints, y=ints, c3=st.binary(min_size=32, max_size=32), c2=st.binary(min_size=1, max_size=400)
)
def test_ciphertext_round_trip(x, y, c3, c2):
    der = sm2_der.encode_ciphertext(x, y, c3, c2)
    assert sm2_der.decode_ciphertext(der) == (x, y, c3, c2)


@settings(max_examples=50)
@given(data=st.binary(max_size=80))
def test_random_bytes_never_crash(data):
    try:
        r, s = sm2_der.decode_signature(data)
    except MalformedInput:
        return
    assert sm2_der.encode_signature(r, s) == data  # anything accepted is canonical DER


@pytest.mark.parametrize(
    "der",
    [
        "3006020101020101ff",  # trailing byte
        "300702010102020001",  # non-minimal INTEGER
        "3006020181020101",  # negative INTEGER
        "30060200020101",  # wrong inner length
        "3081060201010201 01".replace(" ", ""),  # non-minimal length
        "300602010102010100",  # outer length too short for content
        "3008020101020101 0500".replace(" ", ""),  # extra element
        "3180",
        "",
    ],
)
def test_malformed_signatures(der):
    with pytest.raises(MalformedInput):
        sm2_der.decode_signature(bytes.fromhex(der))


def test_ciphertext_hash_must_be_32_bytes():
    der = sm2_der.encode_ciphertext(1, 2, bytes(31), b"x")
    with pytest.raises(MalformedInput):
        sm2_der.decode_ciphertext(der)
