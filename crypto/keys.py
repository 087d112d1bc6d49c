"""SM2 key files: PKCS#8 and SubjectPublicKeyInfo, PEM or DER, optionally password-encrypted.

Both structures use id-ecPublicKey (1.2.840.10045.2.1) with namedCurve 1.2.156.10197.1.301
(STANDARDS.md "Keys"), exactly as ``openssl genpkey -algorithm SM2`` writes them, so the two
tools read each other's files. libcrypto does the encoding (see ``crypto._openssl_keys``).

Encrypted private keys use PBES2 with PBKDF2 (HMAC-SHA256, OpenSSL's default PRF) and
SM4-CBC; ``PBKDF2_ITERATIONS`` replaces OpenSSL's low default of 2048.
"""

from __future__ import annotations

from typing import Final, Literal

from crypto import _openssl_keys
from crypto.sm2 import _ADOPT, PrivateKey, PublicKey

Encoding = Literal["pem", "der"]
PBKDF2_ITERATIONS: Final = 100_000


def load_private_key(data: bytes, password: bytes | None = None) -> PrivateKey:
    """Load PEM or DER PKCS#8 (plain or encrypted) or SEC1 ``EC PRIVATE KEY``.

    Raises MalformedInput (unparsable, wrong password) or InvalidKey (not SM2, out of range,
    public part inconsistent with the scalar).
    """
    return PrivateKey(_openssl_keys.load_private(data, password), _adopt=_ADOPT)


def load_public_key(data: bytes) -> PublicKey:
    """Load a PEM or DER SubjectPublicKeyInfo; off-curve points raise InvalidKey/MalformedInput."""
    pkey = _openssl_keys.load_public(data)
    try:
        x, y = _openssl_keys.public_point(pkey)
    except BaseException:
        _openssl_keys.free(pkey)
        raise
    return PublicKey(x, y, _pkey=pkey)


def dump_private_key(
    key: PrivateKey,
    *,
    encoding: Encoding = "pem",
    password: bytes | None = None,
    iterations: int = PBKDF2_ITERATIONS,
) -> bytes:
    """PKCS#8 ``PRIVATE KEY``, or ``ENCRYPTED PRIVATE KEY`` when a password is given."""
    return _openssl_keys.dump_private(
        key.evp_pkey(), pem=encoding == "pem", password=password, iterations=iterations
    )


def dump_public_key(key: PublicKey, *, encoding: Encoding = "pem") -> bytes:
    """SubjectPublicKeyInfo ``PUBLIC KEY``."""
    return _openssl_keys.dump_public(key.evp_pkey(), pem=encoding == "pem")
