"""``anbao crypto``: happy paths, exit codes, one-line errors without tracebacks."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from anbao.cli.crypto import crypto
from crypto import keys, sm3, sm4


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, stdin: bytes | None = None):
        return runner.invoke(crypto, list(args), input=stdin, catch_exceptions=False)

    return invoke


@pytest.fixture
def keypair(run, tmp_path):
    assert run("sm2", "keygen", "-o", "key.pem").exit_code == 0
    assert run("sm2", "pub", "key.pem", "-o", "pub.pem").exit_code == 0
    (tmp_path / "msg").write_bytes(b"hello world")
    return tmp_path


def _bad_input(result) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output


def test_sm3_file_and_stdin(run, tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    digest = sm3.digest(b"abc").hex()
    assert run("sm3", "f").stdout.strip() == digest
    assert run("sm3", "-", stdin=b"abc").stdout.strip() == digest
    assert run("sm3").stdout.strip() == sm3.digest(b"").hex()
    _bad_input(run("sm3", "missing"))


def test_keygen_permissions_and_no_overwrite(run, keypair):
    assert (keypair / "key.pem").stat().st_mode & 0o777 == 0o600
    keys.load_private_key((keypair / "key.pem").read_bytes())
    _bad_input(run("sm2", "keygen", "-o", "key.pem"))


def test_sign_verify(run, keypair):
    assert run("sm2", "sign", "-k", "key.pem", "msg", "-o", "sig").exit_code == 0
    assert run("sm2", "verify", "-p", "pub.pem", "-s", "sig", "msg").exit_code == 0
    assert run("sm2", "sign", "-k", "key.pem", "--id", "alice", "msg", "-o", "sig2").exit_code == 0
    assert (
        run("sm2", "verify", "-p", "pub.pem", "--id", "alice", "-s", "sig2", "msg").exit_code == 0
    )
    bad = run("sm2", "verify", "-p", "pub.pem", "-s", "sig2", "msg")
    assert bad.exit_code == 1
    assert "not valid" in bad.stderr
    (keypair / "msg").write_bytes(b"tampered")
    assert run("sm2", "verify", "-p", "pub.pem", "-s", "sig", "msg").exit_code == 1


def test_verify_takes_the_signature_as_der_or_base64(run, keypair):
    """The compliance API gives the sign-off signature as base64; tools give DER: both work."""
    import base64

    assert run("sm2", "sign", "-k", "key.pem", "msg", "-o", "sig").exit_code == 0
    der = (keypair / "sig").read_bytes()
    text = base64.b64encode(der)
    forms = {
        "b64": text,  # the API's JSON value, as is
        "b64nl": text + b"\n",  # as `jq -r .signature` writes it
        "b64wrapped": base64.encodebytes(der),  # as `base64` wraps it, 76 columns
    }
    for name, data in forms.items():
        (keypair / name).write_bytes(data)
        result = run("sm2", "verify", "-p", "pub.pem", "-s", name, "msg")
        assert result.exit_code == 0, (name, result.output)
    (keypair / "other").write_bytes(b"another message")
    assert run("sm2", "verify", "-p", "pub.pem", "-s", "b64", "other").exit_code == 1
    (keypair / "junk").write_bytes(b"bm90IGEgc2lnbmF0dXJl")  # base64, but not of a signature
    result = run("sm2", "verify", "-p", "pub.pem", "-s", "junk", "msg")
    _bad_input(result)
    assert result.stderr.startswith("error: -s junk: ")
    (keypair / "bad64").write_bytes(text[:-4] + b"!!!!")
    _bad_input(run("sm2", "verify", "-p", "pub.pem", "-s", "bad64", "msg"))


def test_verify_bad_inputs(run, keypair):
    run("sm2", "sign", "-k", "key.pem", "msg", "-o", "sig")
    (keypair / "trunc").write_bytes((keypair / "sig").read_bytes()[:-2])
    _bad_input(run("sm2", "verify", "-p", "pub.pem", "-s", "trunc", "msg"))
    _bad_input(run("sm2", "verify", "-p", "key.pem", "-s", "sig", "msg"))  # private as public
    _bad_input(run("sm2", "verify", "-p", "pub.pem", "-s", "nosuchfile", "msg"))
    _bad_input(run("sm2", "sign", "-k", "pub.pem", "msg", "-o", "x"))  # public as private


def test_encrypt_decrypt(run, keypair):
    assert run("sm2", "encrypt", "-p", "pub.pem", "msg", "-o", "ct").exit_code == 0
    result = run("sm2", "decrypt", "-k", "key.pem", "ct")
    assert result.exit_code == 0
    assert result.stdout_bytes == b"hello world"
    ct = (keypair / "ct").read_bytes()
    (keypair / "ct").write_bytes(ct[:-1] + bytes([ct[-1] ^ 1]))
    _bad_input(run("sm2", "decrypt", "-k", "key.pem", "ct"))


def test_encrypted_key_with_password_file(run, keypair):
    (keypair / "pw").write_text("correct horse\n")
    assert run("sm2", "keygen", "-o", "enc.pem", "--password-file", "pw").exit_code == 0
    assert b"ENCRYPTED" in (keypair / "enc.pem").read_bytes()
    assert run("sm2", "pub", "enc.pem", "--password-file", "pw").exit_code == 0
    _bad_input(run("sm2", "pub", "enc.pem"))


@pytest.mark.parametrize("mode", ["cbc", "ctr", "gcm"])
def test_sm4_round_trip(run, tmp_path, mode):
    key = os.urandom(16).hex()
    (tmp_path / "p").write_bytes(b"plaintext" * 5)
    assert run("sm4", "encrypt", "--key", key, "--mode", mode, "p", "-o", "c").exit_code == 0
    out = run("sm4", "decrypt", "--key", key, "--mode", mode, "c")
    assert out.exit_code == 0
    assert out.stdout_bytes == b"plaintext" * 5


def test_sm4_explicit_iv_and_aad(run, tmp_path):
    key, iv, aad = bytes(range(16)), bytes(12), b"hdr"
    args = ["--key", key.hex(), "--mode", "gcm", "--iv", iv.hex(), "--aad", aad.hex()]
    out = run("sm4", "encrypt", *args, "-", stdin=b"data")
    assert out.stdout_bytes == sm4.gcm_encrypt(key, iv, b"data", aad)
    (tmp_path / "c").write_bytes(out.stdout_bytes[:-1] + bytes([out.stdout_bytes[-1] ^ 1]))
    _bad_input(run("sm4", "decrypt", *args, "c"))  # wrong tag


@pytest.mark.parametrize(
    "args",
    [
        ["--key", "zz", "--mode", "cbc"],
        ["--key", "00" * 15, "--mode", "cbc"],
        ["--key", "00" * 16, "--mode", "cbc", "--iv", "00"],
        ["--key", "00" * 16, "--mode", "gcm", "--aad", "xyz"],
    ],
)
def test_sm4_bad_input(run, args):
    _bad_input(run("sm4", "encrypt", *args, "-", stdin=b"x"))


def test_sm4_decrypt_short_input(run):
    _bad_input(run("sm4", "decrypt", "--key", "00" * 16, "--mode", "gcm", "-", stdin=b"x"))
