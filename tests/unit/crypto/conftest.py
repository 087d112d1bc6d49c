"""Fixtures shared by the SM2/SM3/SM4 unit tests: standard vectors and cached keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crypto import sm2
from tests.paths import TESTS

VECTORS = TESTS / "vectors"


def load_vectors(name: str) -> dict[str, Any]:
    """One of tests/vectors/*.json (provenance in tests/vectors/README.md)."""
    data: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text("utf-8"))
    return data


def gmssl_public_hex(key: sm2.PublicKey) -> str:
    """``x || y`` hex for gmssl, which strips a leading "04" (and more) from what it is given."""
    return key.to_bytes()[1:].hex()


@pytest.fixture(scope="session")
def sm2_key() -> sm2.PrivateKey:
    """A session key whose x does not start with hex "0"/"4" (gmssl's lstrip bug)."""
    while True:
        key = sm2.PrivateKey.generate()
        if gmssl_public_hex(key.public_key())[0] not in "04":
            return key


@pytest.fixture(scope="session")
def other_key() -> sm2.PrivateKey:
    return sm2.PrivateKey.generate()


@pytest.fixture(scope="session")
def sm2_vector() -> dict[str, str]:
    vector: dict[str, str] = load_vectors("sm2")["signature"][0]
    return vector
