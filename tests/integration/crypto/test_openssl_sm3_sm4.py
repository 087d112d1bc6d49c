"""SM3, HMAC-SM3, SM4-CBC and SM4-CTR against the ``openssl`` CLI on random inputs."""

from __future__ import annotations

import os
import secrets

import pytest

from crypto import sm3, sm4

pytestmark = pytest.mark.integration
ROUNDS = 4


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_sm3_and_hmac(openssl, round_):
    data, key = os.urandom(secrets.randbelow(5000)), os.urandom(secrets.randbelow(100) + 1)
    assert openssl("dgst", "-sm3", "-binary", stdin=data).stdout == sm3.digest(data)
    mac = openssl(
        "dgst", "-sm3", "-mac", "HMAC", "-macopt", f"hexkey:{key.hex()}", "-binary", stdin=data
    ).stdout
    assert mac == sm3.hmac(key, data)


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize("mode", ["cbc", "ctr"])
def test_sm4_both_ways(openssl, mode, round_):
    data = os.urandom(secrets.randbelow(3000))
    key, iv = os.urandom(16), os.urandom(16)
    ours = sm4.cbc_encrypt(key, iv, data) if mode == "cbc" else sm4.ctr_crypt(key, iv, data)
    args = [f"-sm4-{mode}", "-K", key.hex(), "-iv", iv.hex()]
    assert openssl("enc", *args, stdin=data).stdout == ours
    theirs = openssl("enc", "-d", *args, stdin=ours).stdout
    assert theirs == data
