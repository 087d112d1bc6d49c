"""No key bytes or plaintext in exception messages, reprs, logs or CLI errors (issue 3)."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from anbao.cli.crypto import crypto
from crypto import aead, keys, sm2, sm4
from crypto.errors import CryptoError

D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
SYM_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
PLAINTEXT = b"TOP-SECRET-PLAINTEXT-0123456789"


def _forms(secret: bytes) -> list[str]:
    return [secret.hex(), secret.hex().upper(), repr(secret), secret.decode("latin-1")]


def _assert_clean(text: str) -> None:
    for secret in (D, SYM_KEY, PLAINTEXT, PLAINTEXT[:16]):
        for form in _forms(secret):
            assert form not in text


def _failures():
    key = sm2.PrivateKey.from_bytes(D)
    other = sm2.PrivateKey.generate()
    pem = keys.dump_private_key(key, password=b"pw", iterations=1000)
    ct = key.public_key().encrypt(PLAINTEXT)
    blob = aead.seal(SYM_KEY, PLAINTEXT)
    yield lambda: keys.load_private_key(pem, b"wrong")
    yield lambda: keys.load_private_key(keys.dump_private_key(key)[:-40])
    yield lambda: other.decrypt(ct)
    yield lambda: key.decrypt(ct[:-1])
    yield lambda: key.public_key().verify(key.sign(PLAINTEXT), PLAINTEXT + b"x")
    yield lambda: aead.open(SYM_KEY, blob[:-1] + bytes([blob[-1] ^ 1]))  # tag changed
    yield lambda: sm4.cbc_decrypt(SYM_KEY, bytes(16), PLAINTEXT[:15])
    yield lambda: sm4.gcm_decrypt(SYM_KEY, bytes(12), PLAINTEXT)
    yield lambda: sm4.encrypt_block(SYM_KEY[:15], PLAINTEXT[:16])
    yield lambda: sm2.PrivateKey.from_bytes(D[:31])


def test_exceptions_and_logs_hold_no_secrets(caplog):
    caplog.set_level(logging.DEBUG)
    count = 0
    for fail in _failures():
        with pytest.raises(CryptoError) as info:
            fail()
        exc = info.value
        _assert_clean(f"{exc}|{exc!r}|{exc.detail}|{exc.__cause__!r}|{exc.__context__!r}")
        count += 1
    assert count == 10
    _assert_clean(caplog.text)


def test_reprs_hold_no_secrets():
    key = sm2.PrivateKey.from_bytes(D)
    _assert_clean(repr(key) + str(key) + repr(key.public_key()))


def test_cli_errors_hold_no_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    (tmp_path / "p").write_bytes(PLAINTEXT)
    args = ["sm4", "decrypt", "--key", SYM_KEY.hex(), "--mode", "gcm", "--iv", "00" * 12, "p"]
    result = runner.invoke(crypto, args)
    assert result.exit_code == 2
    _assert_clean(result.output)
    result = runner.invoke(
        crypto, ["sm4", "encrypt", "--key", SYM_KEY.hex()[:-1], "--mode", "cbc", "p"]
    )
    assert result.exit_code == 2
    _assert_clean(result.output)
