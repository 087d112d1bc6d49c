"""SM2 public-key primitives (GB/T 32918.1-5, GM/T 0003; usage rules GM/T 0009).

Secret-dependent work (key generation, signing, decryption, and encryption, whose ephemeral
``k`` is secret) runs in libcrypto (``crypto._openssl``): constant-time ``kG`` and a CSPRNG
nonce. There is no pure-Python fallback: without OpenSSL >= 3.0 these raise
``BackendUnavailable``. Verification uses only public data, so it computes ``sG + tP`` itself
(``crypto._openssl_ec``: cheap for a key never seen before, precomputed tables for keys seen
repeatedly) and compares ``r`` in Python.

Signatures are over ``e = SM3(Z || M)`` with ``Z`` from the signer's user id (GB/T 32918.2
§5.5, default id ``1234567812345678`` per GM/T 0009 §10). Forms: ``"der"`` (GM/T 0009 §7.3)
or ``"raw"`` (``r || s``, 64 bytes). Ciphertexts: ``"der"`` (GM/T 0009 §7.2), ``"c1c3c2"``
(GB/T 32918.4 raw) or ``"c1c2c3"`` (the old order, only when a caller asks for it).
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Final, Literal

from crypto import _openssl as ossl
from crypto import _openssl_ec, _openssl_keys, sm2_der, sm3
from crypto.errors import (
    CryptoError,
    DecryptionFailed,
    InvalidKey,
    InvalidSignature,
    MalformedInput,
)

P: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B: Final = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX: Final = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY: Final = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
DEFAULT_UID: Final = b"1234567812345678"
CURVE_OID: Final = "1.2.156.10197.1.301"
SIGNATURE_OID: Final = "1.2.156.10197.1.501"
_CURVE_BYTES: Final = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
_MAX_UID_BYTES: Final = 0xFFFF // 8
_MAX_SIG_DER: Final = 80
_RAW_SIG_SIZE: Final = 64
_C1_SIZE: Final = 65
_Z_CACHE_SIZE: Final = 8

_ADOPT: Final = object()  # only this module and crypto.keys construct PrivateKey from a pointer
SignatureForm = Literal["der", "raw"]
CiphertextForm = Literal["der", "c1c3c2", "c1c2c3"]


def _pkey_finalizer(owner: object, pkey: int) -> None:
    weakref.finalize(owner, ossl.lib().EVP_PKEY_free, pkey)


class PublicKey:
    """An SM2 public point, validated on the curve. Immutable; safe to share across threads."""

    def __init__(self, x: int, y: int, *, _pkey: int = 0) -> None:
        if not (0 <= x < P and 0 <= y < P) or (y * y - (x * x * x + A * x + B)) % P:
            if _pkey:
                ossl.lib().EVP_PKEY_free(_pkey)
            raise InvalidKey("public key point is not on the SM2 curve")
        self.x, self.y = x, y
        self._pkey = _pkey
        if _pkey:
            _pkey_finalizer(self, _pkey)
        self._verify_key: _openssl_ec.VerifyKey | None = None
        self._z: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_point(cls, x: int, y: int) -> PublicKey:
        """From affine coordinates; raises InvalidKey if the point is not on the curve."""
        return cls(x, y)

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """From the uncompressed encoding ``04 || x || y`` (65 bytes)."""
        if len(data) != _C1_SIZE or data[0] != 0x04:  # noqa: PLR2004 - SEC 1 uncompressed tag
            raise InvalidKey("SM2 public key must be 65 bytes: 04 || x || y")
        return cls(int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big"))

    def to_bytes(self) -> bytes:
        """The uncompressed encoding ``04 || x || y``."""
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self) -> int:
        return hash((self.x, self.y))

    def __repr__(self) -> str:
        return f"PublicKey(x={self.x:064x})"

    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        """Pickle and copy by value: the cached libcrypto objects are rebuilt, never shared."""
        return (PublicKey.from_bytes, (self.to_bytes(),))

    def evp_pkey(self) -> int:
        """The cached libcrypto ``EVP_PKEY`` (internal; owned by this object)."""
        with self._lock:
            if not self._pkey:
                der = _openssl_keys.SPKI_PREFIX + self.to_bytes()
                self._pkey = _openssl_keys.load_public(der)
                _pkey_finalizer(self, self._pkey)
            return self._pkey

    def z(self, uid: bytes = DEFAULT_UID) -> bytes:
        """``Z`` for this key and ``uid``, cached for a few ids (GB/T 32918.2 §5.5)."""
        cached = self._z.get(uid)
        if cached is None:
            cached = compute_z(self, uid)
            if len(self._z) < _Z_CACHE_SIZE:
                self._z[uid] = cached
        return cached

    def verify(
        self,
        signature: bytes,
        data: bytes,
        *,
        uid: bytes = DEFAULT_UID,
        form: SignatureForm = "der",
    ) -> None:
        """Verify (GB/T 32918.2 §7); raise InvalidSignature on any mismatch, never return False.

        Malformed DER or an out-of-range r or s is reported as InvalidSignature too, because
        for a verifier they mean the same thing.
        """
        try:
            r, s = _decode_signature(signature, form)
        except MalformedInput as exc:
            raise InvalidSignature("malformed signature") from exc
        if not (1 <= r < N and 1 <= s < N):
            raise InvalidSignature("signature value out of range")
        t = (r + s) % N
        if t == 0:
            raise InvalidSignature("signature value out of range")
        e = int.from_bytes(sm3.digest(self.z(uid) + data), "big")
        x1 = self._vk().x_of_sg_plus_tp(s, t)
        if x1 is None or (e + int.from_bytes(x1, "big")) % N != r:
            raise InvalidSignature

    def _vk(self) -> _openssl_ec.VerifyKey:
        vk = self._verify_key
        if vk is None:
            with self._lock:
                if self._verify_key is None:
                    self._verify_key = _openssl_ec.VerifyKey(self.to_bytes())
                vk = self._verify_key
        return vk

    def encrypt(self, plaintext: bytes, *, form: CiphertextForm = "der") -> bytes:
        """Encrypt with a fresh ephemeral key inside libcrypto (GB/T 32918.4 §6.1)."""
        if not plaintext:
            raise MalformedInput("SM2 cannot encrypt an empty message")
        der = _pkey_crypt(self.evp_pkey(), plaintext, encrypt=True)
        return der if form == "der" else _der_to_raw(der, form)


class PrivateKey:
    """An SM2 private key held in libcrypto; the scalar never enters Python after loading."""

    def __init__(self, _pkey: int, *, _adopt: object = None) -> None:
        """Internal: take ownership of a validated ``EVP_PKEY``; use generate() or keys.*."""
        if _adopt is not _ADOPT or not isinstance(_pkey, int):
            raise TypeError("use PrivateKey.generate(), .from_bytes() or crypto.keys")
        self._pkey = _pkey
        _pkey_finalizer(self, _pkey)
        x, y = _openssl_keys.public_point(_pkey)
        self._public = PublicKey(x, y)

    @classmethod
    def generate(cls) -> PrivateKey:
        """A new random key pair from libcrypto's CSPRNG."""
        return cls(_openssl_keys.generate(), _adopt=_ADOPT)

    @classmethod
    def from_bytes(cls, d: bytes) -> PrivateKey:
        """From a 32-byte big-endian scalar in [1, n-2]; mainly for test vectors and imports."""
        return cls(_openssl_keys.private_from_scalar(d), _adopt=_ADOPT)

    def __repr__(self) -> str:
        return f"PrivateKey(public={self._public!r})"

    def __copy__(self) -> PrivateKey:
        return self  # immutable; a shallow copy would share (and double-free) the EVP_PKEY

    def __deepcopy__(self, memo: object) -> PrivateKey:
        return self

    def __reduce__(self) -> tuple[object, ...]:
        """Refuse pickling: export with crypto.keys.dump_private_key (and a password)."""
        raise TypeError("SM2 private keys cannot be pickled; use crypto.keys.dump_private_key")

    def public_key(self) -> PublicKey:
        """The matching public key."""
        return self._public

    def evp_pkey(self) -> int:
        """The libcrypto ``EVP_PKEY`` (internal; owned by this object)."""
        return self._pkey

    def sign(self, data: bytes, *, uid: bytes = DEFAULT_UID, form: SignatureForm = "der") -> bytes:
        """Sign ``data`` (Z pre-hash with ``uid``) in libcrypto; random k every time."""
        _check_uid(uid)
        der = _digest_sign(self._pkey, uid, data)
        if form == "der":
            return der
        if form != "raw":
            raise MalformedInput("signature form must be 'der' or 'raw'")
        r, s = sm2_der.decode_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def decrypt(self, ciphertext: bytes, *, form: CiphertextForm = "der") -> bytes:
        """Decrypt; any failure (bad C1, hash mismatch, wrong key) is DecryptionFailed."""
        der = _raw_to_der(ciphertext, form)
        return _pkey_crypt(self._pkey, der, encrypt=False)


def compute_z(public_key: PublicKey, uid: bytes = DEFAULT_UID) -> bytes:
    """``Z = SM3(ENTL || ID || a || b || Gx || Gy || xA || yA)`` (GB/T 32918.2 §5.5)."""
    _check_uid(uid)
    entl = (len(uid) * 8).to_bytes(2, "big")
    point = public_key.x.to_bytes(32, "big") + public_key.y.to_bytes(32, "big")
    return sm3.digest(entl + uid + _CURVE_BYTES + point)


def _check_uid(uid: bytes) -> None:
    if len(uid) > _MAX_UID_BYTES:
        raise MalformedInput("SM2 user id longer than 8191 bytes (ENTL is 16 bits)")


def _decode_signature(signature: bytes, form: SignatureForm) -> tuple[int, int]:
    if form == "der":
        return sm2_der.decode_signature(signature)
    if form == "raw" and len(signature) == _RAW_SIG_SIZE:
        return int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    raise MalformedInput("raw signature must be 64 bytes (r || s)")


def _digest_sign(pkey: int, uid: bytes, data: bytes) -> bytes:
    """EVP_DigestSign with the distinguishing id set on a per-call EVP_PKEY_CTX."""
    lib = ossl.lib()
    mctx = lib.EVP_MD_CTX_new()
    pctx = lib.EVP_PKEY_CTX_new(pkey, None)
    try:
        if not (mctx and pctx):
            raise ossl.fail(CryptoError, "out of memory")
        ossl.check(lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)), CryptoError, "set id failed")
        lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        ok = lib.EVP_DigestSignInit(mctx, None, lib.sm3, None, pkey)
        ossl.check(ok, CryptoError, "signing failed")
        out = ctypes.create_string_buffer(_MAX_SIG_DER)
        size = ctypes.c_size_t(_MAX_SIG_DER)
        ok = lib.EVP_DigestSign(mctx, out, ctypes.byref(size), data, len(data))
        ossl.check(ok, CryptoError, "signing failed")
        return out.raw[: size.value]
    finally:
        lib.EVP_MD_CTX_free(mctx)  # does not free pctx: it was set, not created, by mctx
        lib.EVP_PKEY_CTX_free(pctx)


def _pkey_crypt(pkey: int, data: bytes, *, encrypt: bool) -> bytes:
    lib = ossl.lib()
    init = lib.EVP_PKEY_encrypt_init if encrypt else lib.EVP_PKEY_decrypt_init
    run = lib.EVP_PKEY_encrypt if encrypt else lib.EVP_PKEY_decrypt
    exc: type[CryptoError] = CryptoError if encrypt else DecryptionFailed
    ctx = lib.EVP_PKEY_CTX_new(pkey, None)
    try:
        if not ctx:
            raise ossl.fail(CryptoError, "out of memory")
        ossl.check(init(ctx), exc, "SM2 encryption failed" if encrypt else "decryption failed")
        size = ctypes.c_size_t(0)
        ossl.check(run(ctx, None, ctypes.byref(size), data, len(data)), exc, "SM2 operation failed")
        out = ctypes.create_string_buffer(size.value)
        ossl.check(run(ctx, out, ctypes.byref(size), data, len(data)), exc, "SM2 operation failed")
        result = out.raw[: size.value]
        if not encrypt:
            ctypes.memset(out, 0, len(out))  # best effort: the Python bytes copy remains
        return result
    finally:
        lib.EVP_PKEY_CTX_free(ctx)


def _der_to_raw(der: bytes, form: CiphertextForm) -> bytes:
    x, y, c3, c2 = sm2_der.decode_ciphertext(der)
    c1 = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    if form == "c1c3c2":
        return c1 + c3 + c2
    if form == "c1c2c3":
        return c1 + c2 + c3
    raise MalformedInput("ciphertext form must be 'der', 'c1c3c2' or 'c1c2c3'")


def _raw_to_der(ct: bytes, form: CiphertextForm) -> bytes:
    """Normalise any accepted form to strict DER (re-encoded, so libcrypto sees canonical input)."""
    if form == "der":
        try:
            return sm2_der.encode_ciphertext(*sm2_der.decode_ciphertext(ct))
        except MalformedInput as exc:
            raise DecryptionFailed from exc
    if form not in ("c1c3c2", "c1c2c3"):
        raise MalformedInput("ciphertext form must be 'der', 'c1c3c2' or 'c1c2c3'")
    if len(ct) <= _C1_SIZE + sm2_der.HASH_SIZE or ct[0] != 0x04:  # noqa: PLR2004 - SEC 1 tag
        raise DecryptionFailed
    x, y = int.from_bytes(ct[1:33], "big"), int.from_bytes(ct[33:65], "big")
    body = ct[_C1_SIZE:]
    if form == "c1c3c2":
        c3, c2 = body[: sm2_der.HASH_SIZE], body[sm2_der.HASH_SIZE :]
    else:
        c2, c3 = body[: -sm2_der.HASH_SIZE], body[-sm2_der.HASH_SIZE :]
    return sm2_der.encode_ciphertext(x, y, c3, c2)
