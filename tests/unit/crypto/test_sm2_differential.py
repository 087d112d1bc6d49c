"""The fast verification path agrees with libcrypto's own EVP_DigestVerify, case by case."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import _openssl, sm2, sm2_der
from crypto.errors import InvalidSignature


def _evp_verify(pub: sm2.PublicKey, sig: bytes, msg: bytes, uid: bytes) -> bool:
    lib = _openssl.lib()
    mctx, pctx = lib.EVP_MD_CTX_new(), lib.EVP_PKEY_CTX_new(pub.evp_pkey(), None)
    try:
        assert lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) == 1
        lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        assert lib.EVP_DigestVerifyInit(mctx, None, lib.sm3, None, pub.evp_pkey()) == 1
        return bool(lib.EVP_DigestVerify(mctx, sig, len(sig), msg, len(msg)) == 1)
    finally:
        lib.EVP_MD_CTX_free(mctx)
        lib.EVP_PKEY_CTX_free(pctx)
        lib.ERR_clear_error()


def _ours(pub: sm2.PublicKey, sig: bytes, msg: bytes, uid: bytes) -> bool:
    try:
        pub.verify(sig, msg, uid=uid)
    except InvalidSignature:
        return False
    return True


def _mutations(sig: bytes) -> list[bytes]:
    r, s = sm2_der.decode_signature(sig)
    n = sm2.N
    return [
        sig,
        sm2_der.encode_signature(r, (s + 1) % n),
        sm2_der.encode_signature((r + 1) % n, s),
        sm2_der.encode_signature(s, r),
        sm2_der.encode_signature(r, n - r),  # t = 0
        sm2_der.encode_signature(r + n, s),
        sm2_der.encode_signature(r, s + n),
    ]


@settings(max_examples=10)
@given(msg=st.binary(max_size=100), uid=st.binary(min_size=1, max_size=20), flip=st.booleans())
def test_agrees_with_evp_digest_verify(sm2_key, msg, uid, flip):
    pub = sm2.PublicKey.from_bytes(sm2_key.public_key().to_bytes())  # fresh: both paths run
    sig = sm2_key.sign(msg, uid=uid)
    checked = msg + b"!" if flip else msg
    for _ in range(2):
        for candidate in _mutations(sig):
            assert _ours(pub, candidate, checked, uid) == _evp_verify(pub, candidate, checked, uid)
