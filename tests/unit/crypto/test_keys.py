"""Key files: PKCS#8 / SPKI in PEM and DER, encrypted PKCS#8, rejection of bad keys."""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import _openssl, _openssl_keys, keys, sm2
from crypto.errors import CryptoError, InvalidKey, MalformedInput

OID_DER = bytes.fromhex("06082A811CCF5501822D")


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_private_round_trip(sm2_key, encoding):
    data = keys.dump_private_key(sm2_key, encoding=encoding)
    assert keys.load_private_key(data).public_key() == sm2_key.public_key()
    if encoding == "pem":
        assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
    else:
        assert OID_DER in data


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_encrypted_private_round_trip(sm2_key, encoding):
    data = keys.dump_private_key(sm2_key, encoding=encoding, password=b"s3cret", iterations=1000)
    assert keys.load_private_key(data, b"s3cret").public_key() == sm2_key.public_key()
    for wrong in (None, b"wrong"):
        with pytest.raises(MalformedInput):
            keys.load_private_key(data, wrong)


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_public_round_trip(sm2_key, encoding):
    pub = sm2_key.public_key()
    data = keys.dump_public_key(pub, encoding=encoding)
    assert keys.load_public_key(data) == pub
    if encoding == "der":
        assert data == _openssl_keys.SPKI_PREFIX + pub.to_bytes()


def test_loaded_public_key_verifies_and_encrypts(sm2_key):
    pub = keys.load_public_key(keys.dump_public_key(sm2_key.public_key()))
    pub.verify(sm2_key.sign(b"m"), b"m")
    assert sm2_key.decrypt(pub.encrypt(b"m")) == b"m"


def test_public_point_not_on_curve():
    bad = (
        _openssl_keys.SPKI_PREFIX
        + b"\x04"
        + sm2.GX.to_bytes(32, "big")
        + sm2.GX.to_bytes(32, "big")
    )
    with pytest.raises((InvalidKey, MalformedInput)):
        keys.load_public_key(bad)


@pytest.mark.parametrize("d", [0, sm2.N, sm2.N - 1, 2**256 - 1])
def test_pkcs8_scalar_out_of_range(d):
    with pytest.raises(InvalidKey):
        keys.load_private_key(_openssl_keys.PKCS8_PREFIX + d.to_bytes(32, "big"))


def test_p256_keys_rejected():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidKey):
        keys.load_private_key(pem)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKey):
        keys.load_public_key(spki)


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n", b"\x30\x03\x02\x01"]
)
def test_garbage_rejected(data):
    with pytest.raises(MalformedInput):
        keys.load_private_key(data)
    with pytest.raises(MalformedInput):
        keys.load_public_key(data)


def test_truncated_der(sm2_key):
    der = keys.dump_private_key(sm2_key, encoding="der")
    with pytest.raises(MalformedInput):
        keys.load_private_key(der[:-5])


def test_password_with_nul_rejected(sm2_key):
    with pytest.raises(MalformedInput):
        keys.dump_private_key(sm2_key, password=b"a\0b")


def test_openssl_error_queue_left_clean(sm2_key):
    """Leftover entries would leak into other users of libcrypto in this thread (e.g. ssl)."""
    lib = _openssl.lib()
    lib.ERR_clear_error()
    pem = keys.dump_private_key(sm2_key, password=b"pw", iterations=1000)
    steps = [
        lambda: keys.load_private_key(pem, b"pw"),
        lambda: keys.load_private_key(pem, b"wrong"),
        lambda: keys.load_private_key(b"junk"),
        lambda: keys.load_public_key(keys.dump_public_key(sm2_key.public_key(), encoding="der")),
        lambda: keys.load_public_key(b"junk"),
        lambda: sm2_key.decrypt(sm2_key.public_key().encrypt(b"m")),
        lambda: sm2.PrivateKey.generate().decrypt(sm2_key.public_key().encrypt(b"m")),
        lambda: sm2_key.public_key().verify(sm2_key.sign(b"m"), b"m"),
    ]
    for step in steps:
        with contextlib.suppress(CryptoError):
            step()
        assert lib.ERR_peek_error() == 0
