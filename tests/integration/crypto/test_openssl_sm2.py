"""SM2 interop with the ``openssl`` CLI in both directions, on random messages, ids and keys."""

from __future__ import annotations

import os
import secrets

import pytest

from crypto import keys, sm2
from crypto.errors import InvalidSignature

pytestmark = pytest.mark.integration
ROUNDS = 4


def _random_message() -> bytes:
    return os.urandom(secrets.randbelow(2000) + 1)


@pytest.fixture(scope="module")
def ossl_key(openssl, tmp_path_factory):
    """A key made by ``openssl genpkey`` and its public half made by ``openssl pkey``."""
    d = tmp_path_factory.mktemp("ossl")
    openssl("genpkey", "-algorithm", "SM2", "-out", d / "key.pem")
    openssl("pkey", "-in", d / "key.pem", "-pubout", "-out", d / "pub.pem")
    return d


@pytest.fixture(scope="module")
def our_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("ours")
    key = sm2.PrivateKey.generate()
    (d / "key.pem").write_bytes(keys.dump_private_key(key))
    (d / "pub.pem").write_bytes(keys.dump_public_key(key.public_key()))
    return key, d


def _id_opt(uid: bytes) -> str:
    return f"hexdistid:{uid.hex()}"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_openssl_signs_we_verify(openssl, ossl_key, tmp_path, round_):
    msg, uid = _random_message(), os.urandom(secrets.randbelow(30) + 1)
    (tmp_path / "msg").write_bytes(msg)
    openssl(
        "pkeyutl",
        "-sign",
        "-inkey",
        ossl_key / "key.pem",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        _id_opt(uid),
        "-in",
        tmp_path / "msg",
        "-out",
        tmp_path / "sig",
    )
    pub = keys.load_public_key((ossl_key / "pub.pem").read_bytes())
    sig = (tmp_path / "sig").read_bytes()
    for _ in range(3):  # plain and table verification paths
        pub.verify(sig, msg, uid=uid)
    with pytest.raises(InvalidSignature):
        pub.verify(sig, msg + b"x", uid=uid)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_we_sign_openssl_verifies(openssl, our_key, tmp_path, round_):
    key, d = our_key
    msg, uid = _random_message(), os.urandom(secrets.randbelow(30) + 1)
    (tmp_path / "msg").write_bytes(msg)
    (tmp_path / "sig").write_bytes(key.sign(msg, uid=uid))
    args = [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        d / "pub.pem",
        "-rawin",
        "-digest",
        "sm3",
        "-in",
        tmp_path / "msg",
        "-sigfile",
        tmp_path / "sig",
    ]
    assert openssl(*args, "-pkeyopt", _id_opt(uid)).returncode == 0
    wrong = openssl(*args, "-pkeyopt", _id_opt(uid + b"!"), check=False)
    assert wrong.returncode != 0


def test_default_id_matches_openssl_distid(openssl, our_key, tmp_path):
    key, d = our_key
    (tmp_path / "msg").write_bytes(b"message digest")
    (tmp_path / "sig").write_bytes(key.sign(b"message digest"))
    openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        d / "pub.pem",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-in",
        tmp_path / "msg",
        "-sigfile",
        tmp_path / "sig",
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_encryption_both_ways(openssl, ossl_key, our_key, tmp_path, round_):
    msg = _random_message()
    (tmp_path / "msg").write_bytes(msg)
    # OpenSSL encrypts to its key, we decrypt with that key loaded from its PEM.
    openssl(
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        ossl_key / "pub.pem",
        "-in",
        tmp_path / "msg",
        "-out",
        tmp_path / "ct1",
    )
    their_key = keys.load_private_key((ossl_key / "key.pem").read_bytes())
    assert their_key.decrypt((tmp_path / "ct1").read_bytes()) == msg
    # We encrypt to our key, OpenSSL decrypts with our PEM.
    key, d = our_key
    (tmp_path / "ct2").write_bytes(key.public_key().encrypt(msg))
    out = openssl("pkeyutl", "-decrypt", "-inkey", d / "key.pem", "-in", tmp_path / "ct2")
    assert out.stdout == msg


def test_keys_both_ways(openssl, ossl_key, our_key, tmp_path):
    their = keys.load_private_key((ossl_key / "key.pem").read_bytes())
    assert their.public_key() == keys.load_public_key((ossl_key / "pub.pem").read_bytes())
    assert keys.dump_public_key(their.public_key()) == (ossl_key / "pub.pem").read_bytes()
    key, d = our_key
    openssl("pkey", "-in", d / "key.pem", "-check", "-noout")
    pub = openssl("pkey", "-in", d / "key.pem", "-pubout").stdout
    assert pub == (d / "pub.pem").read_bytes()
    text = openssl("pkey", "-pubin", "-in", d / "pub.pem", "-text", "-noout").stdout
    assert b"SM2" in text
    der = openssl("pkey", "-in", d / "key.pem", "-outform", "DER").stdout
    assert keys.load_private_key(der).public_key() == key.public_key()


def test_encrypted_keys_both_ways(openssl, ossl_key, our_key, tmp_path):
    key, _ = our_key
    (tmp_path / "enc.pem").write_bytes(keys.dump_private_key(key, password=b"pw-1"))
    out = openssl("pkey", "-in", tmp_path / "enc.pem", "-passin", "pass:pw-1", "-pubout").stdout
    assert keys.load_public_key(out) == key.public_key()
    assert (
        openssl("pkey", "-in", tmp_path / "enc.pem", "-passin", "pass:no", check=False).returncode
        != 0
    )
    for cipher in ("sm4-cbc", "aes-256-cbc"):
        openssl(
            "pkcs8",
            "-topk8",
            "-in",
            ossl_key / "key.pem",
            "-v2",
            cipher,
            "-passout",
            "pass:pw-2",
            "-out",
            tmp_path / f"{cipher}.pem",
        )
        loaded = keys.load_private_key((tmp_path / f"{cipher}.pem").read_bytes(), b"pw-2")
        assert loaded.public_key() == keys.load_public_key((ossl_key / "pub.pem").read_bytes())
