"""SM4 primitives: GB/T 32907 and RFC 8998 vectors, mode round trips, failures."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import sm4
from crypto.errors import DecryptionFailed, InvalidKey, MalformedInput
from tests.unit.crypto.conftest import load_vectors

V = load_vectors("sm4")
H = bytes.fromhex


def test_block_vector_one_iteration():
    v = V["block"][0]
    assert sm4.encrypt_block(H(v["key"]), H(v["plaintext"])).hex() == v["ciphertext"]
    assert sm4.decrypt_block(H(v["key"]), H(v["ciphertext"])).hex() == v["plaintext"]


def test_block_vector_million_iterations():
    """A.2: a single long-lived ECB encryptor of the same backend keeps this under a second."""
    v = V["block"][1]
    enc = Cipher(algorithms.SM4(H(v["key"])), modes.ECB()).encryptor()  # noqa: S305
    block = H(v["plaintext"])
    for _ in range(v["iterations"]):
        block = enc.update(block)
    assert block.hex() == v["ciphertext"]


def test_gcm_rfc8998_vector():
    v = V["gcm"][0]
    out = sm4.gcm_encrypt(H(v["key"]), H(v["iv"]), H(v["plaintext"]), H(v["aad"]))
    assert out == H(v["ciphertext"]) + H(v["tag"])
    assert sm4.gcm_decrypt(H(v["key"]), H(v["iv"]), out, H(v["aad"])) == H(v["plaintext"])


@settings(max_examples=25)
@given(data=st.binary(max_size=200), aad=st.binary(max_size=40))
def test_round_trips(data, aad):
    key, iv16, iv12 = os.urandom(16), os.urandom(16), os.urandom(12)
    assert sm4.cbc_decrypt(key, iv16, sm4.cbc_encrypt(key, iv16, data)) == data
    assert sm4.ctr_decrypt(key, iv16, sm4.ctr_encrypt(key, iv16, data)) == data
    assert sm4.gcm_decrypt(key, iv12, sm4.gcm_encrypt(key, iv12, data, aad), aad) == data


def test_cbc_pads_full_block():
    key, iv = os.urandom(16), os.urandom(16)
    assert len(sm4.cbc_encrypt(key, iv, b"x" * 16)) == 32


@pytest.mark.parametrize("where", [0, -1])
def test_gcm_wrong_tag_or_ciphertext(where):
    key, iv = os.urandom(16), os.urandom(12)
    out = bytearray(sm4.gcm_encrypt(key, iv, b"attack at dawn", b"hdr"))
    out[where] ^= 0x01
    with pytest.raises(DecryptionFailed):
        sm4.gcm_decrypt(key, iv, bytes(out), b"hdr")


def test_gcm_wrong_aad_and_short_input():
    key, iv = os.urandom(16), os.urandom(12)
    out = sm4.gcm_encrypt(key, iv, b"x", b"a")
    with pytest.raises(DecryptionFailed):
        sm4.gcm_decrypt(key, iv, out, b"b")
    with pytest.raises(DecryptionFailed):
        sm4.gcm_decrypt(key, iv, out[:15])


def test_cbc_bad_padding_and_length():
    key, iv = os.urandom(16), os.urandom(16)
    with pytest.raises(DecryptionFailed):
        sm4.cbc_decrypt(key, iv, os.urandom(15))
    ct = sm4.cbc_encrypt(key, iv, b"hello")  # one block, padding byte 0x0b
    zero_pad = iv[:-1] + bytes([iv[-1] ^ 0x0B])  # flips the last plaintext byte to 0x00
    with pytest.raises(DecryptionFailed):
        sm4.cbc_decrypt(key, zero_pad, ct)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: sm4.encrypt_block(b"short", bytes(16)), InvalidKey),
        (lambda: sm4.encrypt_block(bytes(16), bytes(15)), MalformedInput),
        (lambda: sm4.cbc_encrypt(bytes(16), bytes(12), b""), MalformedInput),
        (lambda: sm4.ctr_crypt(bytes(16), bytes(12), b""), MalformedInput),
        (lambda: sm4.gcm_encrypt(bytes(16), bytes(16), b""), MalformedInput),
        (lambda: sm4.gcm_encrypt(bytes(32), bytes(12), b""), InvalidKey),
    ],
)
def test_bad_sizes(call, error):
    with pytest.raises(error):
        call()
