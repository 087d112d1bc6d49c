"""SM2 ``EVP_PKEY`` life cycle in libcrypto: generate, parse, validate, serialize.

Parsing and serialization are left to libcrypto's decoders/encoders (PEM and DER, PKCS#8,
encrypted PKCS#8, SubjectPublicKeyInfo) so that what we read and write is exactly what
``openssl genpkey -algorithm SM2`` and ``openssl pkey`` read and write. Functions return raw
``EVP_PKEY *`` values that the caller owns (see ``crypto.sm2``, which attaches a finalizer).
"""

from __future__ import annotations

import ctypes
from typing import Final

from crypto import _openssl as ossl
from crypto.errors import CryptoError, InvalidKey, MalformedInput

# DER prefixes (id-ecPublicKey + namedCurve 1.2.156.10197.1.301), STANDARDS.md "Keys".
_ALG_ID: Final = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
SPKI_PREFIX: Final = bytes.fromhex("3059") + _ALG_ID + bytes.fromhex("034200")
PKCS8_PREFIX: Final = bytes.fromhex("3041020100") + _ALG_ID + bytes.fromhex("042730250201010420")
N_MINUS_1: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122


def _owned(ptr: int | None, exc: type[CryptoError], detail: str) -> int:
    if not ptr:
        raise ossl.fail(exc, detail)
    return int(ptr)


def generate() -> int:
    """A fresh SM2 key pair from libcrypto (d uniform in [1, n-2], GB/T 32918.1 §6.1)."""
    lib = ossl.lib()
    ctx = _owned(lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None), CryptoError, "keygen")
    try:
        out = ctypes.c_void_p()
        ossl.check(lib.EVP_PKEY_keygen_init(ctx), CryptoError, "key generation failed")
        ossl.check(lib.EVP_PKEY_generate(ctx, ctypes.byref(out)), CryptoError, "keygen failed")
        return _owned(out.value, CryptoError, "key generation failed")
    finally:
        lib.EVP_PKEY_CTX_free(ctx)


def _check_sm2(pkey: int, *, private: bool) -> None:
    """Reject non-SM2 keys, off-curve points and out-of-range scalars; free ``pkey`` on error."""
    lib = ossl.lib()
    try:
        if not lib.EVP_PKEY_is_a(pkey, b"SM2"):
            raise ossl.fail(InvalidKey, "not an SM2 key (need namedCurve 1.2.156.10197.1.301)")
        if private:
            ctx = _owned(lib.EVP_PKEY_CTX_new(pkey, None), CryptoError, "out of memory")
            try:  # range 1 <= d < n and pairwise consistency P = dG
                ossl.check(lib.EVP_PKEY_check(ctx), InvalidKey, "private key failed validation")
            finally:
                lib.EVP_PKEY_CTX_free(ctx)
            _check_not_n_minus_1(pkey)
    except CryptoError:
        lib.EVP_PKEY_free(pkey)
        raise


def _check_not_n_minus_1(pkey: int) -> None:
    """SM2 also excludes d = n - 1: (1 + d) must be invertible (GB/T 32918.1 §6.1)."""
    lib = ossl.lib()
    d = ctypes.c_void_p()
    ossl.check(lib.EVP_PKEY_get_bn_param(pkey, b"priv", ctypes.byref(d)), InvalidKey, "no d")
    limit = ossl.bn_from_int(N_MINUS_1)
    try:
        if lib.BN_cmp(d, limit) == 0:
            raise ossl.fail(InvalidKey, "private key out of range for SM2")
    finally:
        lib.BN_clear_free(d)
        lib.BN_free(limit)


def load_private(data: bytes, password: bytes | None) -> int:
    """Parse PEM or DER PKCS#8 (optionally encrypted) or SEC1; validate; return EVP_PKEY.

    The passphrase is always set (empty if none), so libcrypto never prompts on a terminal.
    """
    lib = ossl.lib()
    out = ctypes.c_void_p()
    dctx = lib.OSSL_DECODER_CTX_new_for_pkey(
        ctypes.byref(out), None, None, None, ossl.EVP_PKEY_KEYPAIR, None, None
    )
    dctx = _owned(dctx, CryptoError, "out of memory")
    try:
        pw = password or b""
        ok = lib.OSSL_DECODER_CTX_set_passphrase(dctx, pw, len(pw))
        ossl.check(ok, CryptoError, "out of memory")
        src = ctypes.create_string_buffer(data, len(data))
        ptr = ctypes.c_void_p(ctypes.addressof(src))
        size = ctypes.c_size_t(len(data))
        ok = lib.OSSL_DECODER_from_data(dctx, ctypes.byref(ptr), ctypes.byref(size))
        ctypes.memset(src, 0, len(data))  # our copy of the key bytes
        ossl.check(ok, MalformedInput, "cannot parse private key (or wrong password)")
    finally:
        lib.OSSL_DECODER_CTX_free(dctx)
    pkey = _owned(out.value, MalformedInput, "cannot parse private key (or wrong password)")
    _check_sm2(pkey, private=True)
    return pkey


def private_from_scalar(d: bytes) -> int:
    """Build a key pair from a 32-byte big-endian scalar; P = dG is computed by libcrypto."""
    if len(d) != ossl.SCALAR_SIZE:
        raise InvalidKey("SM2 private scalar must be 32 bytes")
    return load_private(PKCS8_PREFIX + d, None)


def load_public(data: bytes) -> int:
    """Parse PEM or DER SubjectPublicKeyInfo; libcrypto rejects points off the curve."""
    lib = ossl.lib()
    bio = ossl.mem_bio(data)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            pkey = lib.PEM_read_bio_PUBKEY(bio, None, None, None)
        else:
            pkey = lib.d2i_PUBKEY_bio(bio, None)
    finally:
        lib.BIO_free(bio)
    pkey = _owned(pkey, MalformedInput, "cannot parse SM2 public key")
    _check_sm2(pkey, private=False)
    return pkey


def public_point(pkey: int) -> tuple[int, int]:
    """Affine (x, y) of the public point of ``pkey``."""
    lib = ossl.lib()
    coords = []
    for name in (b"qx", b"qy"):
        bn = ctypes.c_void_p()
        ok = lib.EVP_PKEY_get_bn_param(pkey, name, ctypes.byref(bn))
        ossl.check(ok, InvalidKey, "key has no public point")
        try:
            coords.append(int.from_bytes(ossl.bn_to_bytes(bn.value or 0), "big"))
        finally:
            lib.BN_free(bn)
    return coords[0], coords[1]


def dump_public(pkey: int, *, pem: bool) -> bytes:
    """SubjectPublicKeyInfo as PEM or DER."""
    lib = ossl.lib()
    write = lib.PEM_write_bio_PUBKEY if pem else lib.i2d_PUBKEY_bio
    return ossl.bio_output(lambda bio: int(write(bio, pkey)))


def dump_private(pkey: int, *, pem: bool, password: bytes | None, iterations: int) -> bytes:
    """PKCS#8 PrivateKeyInfo, or EncryptedPrivateKeyInfo (PBES2: PBKDF2 + SM4-CBC)."""
    lib = ossl.lib()
    p8 = _owned(lib.EVP_PKEY2PKCS8(pkey), CryptoError, "key serialization failed")
    try:
        if password is None:
            write = (
                lib.PEM_write_bio_PKCS8_PRIV_KEY_INFO if pem else lib.i2d_PKCS8_PRIV_KEY_INFO_bio
            )
            return ossl.bio_output(lambda bio: int(write(bio, p8)))
        if not password or b"\0" in password:
            raise MalformedInput("password must be non-empty and contain no NUL bytes")
        pw = ctypes.c_char_p(password)
        cipher = lib.EVP_sm4_cbc()
        sig = lib.PKCS8_encrypt(-1, cipher, pw, len(password), None, 0, iterations, p8)
        sig = _owned(sig, CryptoError, "key encryption failed")
        try:
            write = lib.PEM_write_bio_PKCS8 if pem else lib.i2d_PKCS8_bio
            return ossl.bio_output(lambda bio: int(write(bio, sig)))
        finally:
            lib.X509_SIG_free(sig)
    finally:
        lib.PKCS8_PRIV_KEY_INFO_free(p8)  # its own free also cleanses the key bytes


def free(pkey: int) -> None:
    """Release an ``EVP_PKEY`` the caller did not hand to an owner object."""
    ossl.lib().EVP_PKEY_free(pkey)
