"""A small, careful ctypes binding to the system OpenSSL 3 libcrypto, for SM2.

Why libcrypto: SM2 signing, decryption and key generation handle secrets, so they must run
in a vetted implementation with constant-time scalar multiplication. pyca/cryptography has no
SM2; the pure-Python ``gmssl`` is slow, not constant-time and draws its nonce from ``random``.
OpenSSL >= 3.0 ships SM2 in the default provider and computes ``kG`` with a Montgomery ladder.

Why ctypes (not cffi or a C extension): it is in the standard library, typed by typeshed, and
needs no compiler at install time; its call overhead is small against an SM2 operation
(figures in docs/crypto.md, "Performance").

Rules kept throughout: every function gets ``argtypes``/``restype``; every return value is
checked; every OpenSSL object is freed on all paths (``try/finally`` or ``weakref.finalize``);
the thread-local OpenSSL error queue is cleared after a failure; OpenSSL's error text is never
put into exceptions (it could carry input fragments). ctypes releases the GIL during calls and
OpenSSL 3 is thread-safe for objects that are not shared mutably, so callers create a fresh
context per operation and share only immutable objects (keys, groups, the SM3 ``EVP_MD``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Any, Final

from crypto.errors import BackendUnavailable, CryptoError

P = ctypes.c_void_p
C_INT = ctypes.c_int
C_SIZE = ctypes.c_size_t
C_ULONG = ctypes.c_ulong
C_CHARP = ctypes.c_char_p
PP = ctypes.POINTER(ctypes.c_void_p)
SIZEP = ctypes.POINTER(ctypes.c_size_t)

# name: (restype, argtypes). Only functions present in OpenSSL 3.0's libcrypto.
_PROTOTYPES: Final[dict[str, tuple[Any, list[Any]]]] = {
    "OpenSSL_version_num": (C_ULONG, []),
    "ERR_clear_error": (None, []),
    "ERR_peek_error": (C_ULONG, []),
    "BIO_new_mem_buf": (P, [P, C_INT]),
    "BIO_new": (P, [P]),
    "BIO_s_mem": (P, []),
    "BIO_free": (C_INT, [P]),
    "BIO_ctrl": (ctypes.c_long, [P, C_INT, ctypes.c_long, P]),
    "BN_new": (P, []),
    "BN_free": (None, [P]),
    "BN_clear_free": (None, [P]),
    "BN_bin2bn": (P, [P, C_INT, P]),
    "BN_bn2binpad": (C_INT, [P, P, C_INT]),
    "BN_cmp": (C_INT, [P, P]),
    "BN_CTX_new": (P, []),
    "BN_CTX_free": (None, [P]),
    "EVP_MD_fetch": (P, [P, C_CHARP, C_CHARP]),
    "EVP_MD_CTX_new": (P, []),
    "EVP_MD_CTX_free": (None, [P]),
    "EVP_MD_CTX_set_pkey_ctx": (None, [P, P]),
    "EVP_DigestSignInit": (C_INT, [P, P, P, P, P]),
    "EVP_DigestSign": (C_INT, [P, P, SIZEP, P, C_SIZE]),
    "EVP_DigestVerifyInit": (C_INT, [P, P, P, P, P]),
    "EVP_DigestVerify": (C_INT, [P, P, C_SIZE, P, C_SIZE]),
    "EVP_PKEY_free": (None, [P]),
    "EVP_PKEY_is_a": (C_INT, [P, C_CHARP]),
    "EVP_PKEY_get_bn_param": (C_INT, [P, C_CHARP, PP]),
    "EVP_PKEY_CTX_new": (P, [P, P]),
    "EVP_PKEY_CTX_new_from_name": (P, [P, C_CHARP, C_CHARP]),
    "EVP_PKEY_CTX_free": (None, [P]),
    "EVP_PKEY_CTX_set1_id": (C_INT, [P, P, C_INT]),
    "EVP_PKEY_keygen_init": (C_INT, [P]),
    "EVP_PKEY_generate": (C_INT, [P, PP]),
    "EVP_PKEY_check": (C_INT, [P]),
    "EVP_PKEY_encrypt_init": (C_INT, [P]),
    "EVP_PKEY_encrypt": (C_INT, [P, P, SIZEP, P, C_SIZE]),
    "EVP_PKEY_decrypt_init": (C_INT, [P]),
    "EVP_PKEY_decrypt": (C_INT, [P, P, SIZEP, P, C_SIZE]),
    "EVP_sm4_cbc": (P, []),
    "d2i_PUBKEY_bio": (P, [P, P]),
    "PEM_read_bio_PUBKEY": (P, [P, P, P, P]),
    "i2d_PUBKEY_bio": (C_INT, [P, P]),
    "PEM_write_bio_PUBKEY": (C_INT, [P, P]),
    "OSSL_DECODER_CTX_new_for_pkey": (P, [PP, C_CHARP, C_CHARP, C_CHARP, C_INT, P, C_CHARP]),
    "OSSL_DECODER_CTX_set_passphrase": (C_INT, [P, C_CHARP, C_SIZE]),
    "OSSL_DECODER_from_data": (C_INT, [P, PP, SIZEP]),
    "OSSL_DECODER_CTX_free": (None, [P]),
    "EVP_PKEY2PKCS8": (P, [P]),
    "PKCS8_PRIV_KEY_INFO_free": (None, [P]),
    "PKCS8_encrypt": (P, [C_INT, P, C_CHARP, C_INT, P, C_INT, C_INT, P]),
    "X509_SIG_free": (None, [P]),
    "PEM_write_bio_PKCS8_PRIV_KEY_INFO": (C_INT, [P, P]),
    "i2d_PKCS8_PRIV_KEY_INFO_bio": (C_INT, [P, P]),
    "PEM_write_bio_PKCS8": (C_INT, [P, P]),
    "i2d_PKCS8_bio": (C_INT, [P, P]),
    # EC arithmetic for the public-data verification path (crypto/_openssl_ec.py).
    "EC_GROUP_new_by_curve_name": (P, [C_INT]),
    "EC_GROUP_dup": (P, [P]),
    "EC_GROUP_free": (None, [P]),
    "EC_GROUP_get0_order": (P, [P]),
    "EC_GROUP_get0_cofactor": (P, [P]),
    "EC_GROUP_get0_generator": (P, [P]),
    "EC_GROUP_set_generator": (C_INT, [P, P, P, P]),
    "EC_GROUP_precompute_mult": (C_INT, [P, P]),
    "EC_POINT_new": (P, [P]),
    "EC_POINT_free": (None, [P]),
    "EC_POINT_oct2point": (C_INT, [P, P, P, C_SIZE, P]),
    "EC_POINT_is_at_infinity": (C_INT, [P, P]),
    "EC_POINT_add": (C_INT, [P, P, P, P, P]),
    "EC_POINT_mul": (C_INT, [P, P, P, P, P, P]),
    "EC_POINTs_mul": (C_INT, [P, P, P, C_SIZE, PP, PP, P]),
    "EC_POINT_get_affine_coordinates": (C_INT, [P, P, P, P, P]),
}

NID_SM2: Final = 1172
SCALAR_SIZE: Final = 32
BIO_CTRL_INFO: Final = 3
EVP_PKEY_KEYPAIR: Final = 0x87
MIN_VERSION: Final = 0x30000000
PKCS8_ITERATIONS: Final = 100_000


class Lib:
    """The loaded library: one attribute per prototype above, plus the fetched SM3 ``EVP_MD``."""

    def __init__(self, cdll: ctypes.CDLL) -> None:
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(cdll, name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        self.sm3: int = 0

    def __getattr__(self, name: str) -> Callable[..., Any]:
        raise AttributeError(name)  # pragma: no cover - only reached on a typo


_lib: Lib | None = None
_load_error: str | None = None


def _load() -> None:
    global _lib, _load_error  # noqa: PLW0603 - loaded once per process
    name = ctypes.util.find_library("crypto") or "libcrypto.so.3"
    try:
        lib = Lib(ctypes.CDLL(name))
    except (OSError, AttributeError):
        _load_error = f"OpenSSL 3 libcrypto not found or too old ({name}); SM2 needs OpenSSL >= 3.0"
        return
    if lib.OpenSSL_version_num() < MIN_VERSION:
        _load_error = "OpenSSL libcrypto older than 3.0: no SM2 in the default provider"
        return
    ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    md = lib.EVP_MD_fetch(None, b"SM3", None)
    lib.ERR_clear_error()
    if not ctx or not md:
        _load_error = "OpenSSL libcrypto has no SM2/SM3 (disabled at build time or by policy)"
        return
    lib.EVP_PKEY_CTX_free(ctx)
    lib.sm3 = md  # kept for the life of the process: fetched algorithms are immutable
    _lib = lib


_load()


def lib() -> Lib:
    """Return the library, or raise BackendUnavailable: never a pure-Python fallback."""
    if _lib is None:
        raise BackendUnavailable(_load_error)
    return _lib


def fail(exc: type[CryptoError], detail: str) -> CryptoError:
    """Clear OpenSSL's thread-local error queue and build a client-safe exception."""
    if _lib is not None:
        _lib.ERR_clear_error()
    return exc(detail)


def check(ok: int, exc: type[CryptoError], detail: str) -> None:
    """OpenSSL returns 1 (or a positive count) on success; anything else is a failure."""
    if ok <= 0:
        raise fail(exc, detail)


def buf(data: bytes) -> ctypes.c_char_p:
    """A read-only pointer to ``data`` (valid while ``data`` is referenced)."""
    return ctypes.c_char_p(data)


def mem_bio(data: bytes) -> int:
    """A read-only memory BIO over ``data``; the caller keeps ``data`` alive and frees the BIO."""
    bio = lib().BIO_new_mem_buf(data, len(data))
    if not bio:
        raise fail(CryptoError, "out of memory")
    return int(bio)


def bio_output(write: Callable[[int], int]) -> bytes:
    """Run ``write(bio)`` on a fresh memory BIO and return what it wrote."""
    lb = lib()
    bio = lb.BIO_new(lb.BIO_s_mem())
    if not bio:
        raise fail(CryptoError, "out of memory")
    try:
        check(write(bio), CryptoError, "key serialization failed")
        ptr = ctypes.c_void_p()
        n = lb.BIO_ctrl(bio, BIO_CTRL_INFO, 0, ctypes.byref(ptr))
        return ctypes.string_at(ptr, n) if n > 0 else b""
    finally:
        lb.BIO_free(bio)


def bn_from_int(value: int) -> int:
    """A new BIGNUM holding a non-negative public ``value`` (caller frees)."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    bn = lib().BN_bin2bn(raw, len(raw), None)
    if not bn:
        raise fail(CryptoError, "out of memory")
    return int(bn)


def bn_to_bytes(bn: int, size: int = 32) -> bytes:
    """Big-endian, left-padded to ``size`` bytes."""
    out = ctypes.create_string_buffer(size)
    check(lib().BN_bn2binpad(bn, out, size), CryptoError, "number too large")
    return out.raw
