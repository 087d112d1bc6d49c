"""SM2 sign/verify/encrypt: the GB/T 32918.5 vector, round trips, gmssl as oracle, negatives."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
from gmssl import sm2 as gm_sm2
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import _openssl, sm2, sm2_der, sm3
from crypto.errors import (
    BackendUnavailable,
    DecryptionFailed,
    InvalidKey,
    InvalidSignature,
    MalformedInput,
)
from tests.unit.crypto.conftest import gmssl_public_hex, load_vectors

H = bytes.fromhex


def _vector_key(v):
    return sm2.PublicKey.from_point(int(v["px"], 16), int(v["py"], 16))


def test_curve_constants_match_vectors():
    c = load_vectors("sm2")["curve"]
    assert tuple(int(c[k], 16) for k in ("p", "a", "b", "n", "gx", "gy")) == (
        sm2.P,
        sm2.A,
        sm2.B,
        sm2.N,
        sm2.GX,
        sm2.GY,
    )


def test_vector_public_key_from_d(sm2_vector):
    key = sm2.PrivateKey.from_bytes(H(sm2_vector["d"]))
    assert key.public_key() == _vector_key(sm2_vector)


def test_vector_z_and_e(sm2_vector):
    pub, uid = _vector_key(sm2_vector), sm2_vector["uid_ascii"].encode()
    z = sm2.compute_z(pub, uid)
    assert z.hex().upper() == sm2_vector["z"]
    assert sm2.compute_z(pub) == z  # the default id is the vector's id
    e = sm3.digest(z + sm2_vector["message_ascii"].encode())
    assert e.hex().upper() == sm2_vector["e"]


@pytest.mark.parametrize("repeat", [1, 2, 3])  # later calls use the per-key precomputed table
def test_vector_signature_verifies(sm2_vector, repeat):
    pub = _vector_key(sm2_vector)
    r, s = int(sm2_vector["r"], 16), int(sm2_vector["s"], 16)
    msg = sm2_vector["message_ascii"].encode()
    for _ in range(repeat):
        pub.verify(sm2_der.encode_signature(r, s), msg)
        pub.verify(H(sm2_vector["r"] + sm2_vector["s"]), msg, form="raw")
    with pytest.raises(InvalidSignature):
        pub.verify(sm2_der.encode_signature(r, s), msg + b".")


@settings(max_examples=15)
@given(data=st.binary(max_size=200), uid=st.binary(min_size=0, max_size=40))
def test_sign_verify_round_trip(sm2_key, data, uid):
    pub = sm2_key.public_key()
    for _ in range(3):  # exercise both verification paths
        pub.verify(sm2_key.sign(data, uid=uid), data, uid=uid)
    pub.verify(sm2_key.sign(data, uid=uid, form="raw"), data, uid=uid, form="raw")


@settings(max_examples=5)
@given(data=st.binary(max_size=64))
def test_gmssl_verifies_our_signatures(sm2_key, data):
    raw = sm2_key.sign(data, form="raw")
    oracle = gm_sm2.CryptSM2(private_key=None, public_key=gmssl_public_hex(sm2_key.public_key()))
    assert oracle.verify_with_sm3(raw.hex(), data)


def test_we_verify_gmssl_signature_of_throwaway_key():
    """gmssl signs only with a throwaway key here (its nonce is predictable)."""
    d = "%064x" % (0x1234567 * 0x9E3779B97F4A7C15)
    throwaway = sm2.PrivateKey.from_bytes(H(d))
    oracle = gm_sm2.CryptSM2(private_key=d, public_key=gmssl_public_hex(throwaway.public_key()))
    raw = H(oracle.sign_with_sm3(b"from gmssl"))
    throwaway.public_key().verify(raw, b"from gmssl", form="raw")


def test_signatures_are_randomised(sm2_key):
    assert sm2_key.sign(b"m") != sm2_key.sign(b"m")


def test_tampered_signature(sm2_key):
    sig = bytearray(sm2_key.sign(b"m", form="raw"))
    sig[40] ^= 1
    with pytest.raises(InvalidSignature):
        sm2_key.public_key().verify(bytes(sig), b"m", form="raw")


def test_wrong_id_and_wrong_key(sm2_key, other_key):
    sig = sm2_key.sign(b"m", uid=b"alice")
    with pytest.raises(InvalidSignature):
        sm2_key.public_key().verify(sig, b"m", uid=b"bob")
    with pytest.raises(InvalidSignature):
        sm2_key.public_key().verify(sig, b"m")
    with pytest.raises(InvalidSignature):
        other_key.public_key().verify(sig, b"m", uid=b"alice")


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 1), (1, 0), (sm2.N, 1), (1, sm2.N), (sm2.N + 5, 7), (5, sm2.N - 5), (2**256 + 1, 1)],
)
def test_r_or_s_out_of_range(sm2_key, r, s):
    with pytest.raises(InvalidSignature):
        sm2_key.public_key().verify(sm2_der.encode_signature(r, s), b"m")


@pytest.mark.parametrize("sig", [b"", b"\x30", b"\x30\x00", b"\x31\x06\x02\x01\x01\x02\x01\x01"])
def test_malformed_der_is_invalid(sm2_key, sig):
    with pytest.raises(InvalidSignature):
        sm2_key.public_key().verify(sig, b"m")


def test_raw_signature_wrong_length(sm2_key):
    with pytest.raises(InvalidSignature):
        sm2_key.public_key().verify(bytes(63), b"m", form="raw")


def test_point_not_on_curve():
    with pytest.raises(InvalidKey):
        sm2.PublicKey.from_point(sm2.GX, sm2.GY + 1)
    with pytest.raises(InvalidKey):
        sm2.PublicKey.from_point(sm2.P, 0)
    with pytest.raises(InvalidKey):
        sm2.PublicKey.from_bytes(b"\x02" + sm2.GX.to_bytes(32, "big"))


def test_public_key_bytes_round_trip(sm2_key):
    pub = sm2_key.public_key()
    assert sm2.PublicKey.from_bytes(pub.to_bytes()) == pub
    assert len(pub.to_bytes()) == 65


@pytest.mark.parametrize("d", [0, 1 << 256, sm2.N, sm2.N - 1, sm2.N + 1])
def test_private_scalar_out_of_range(d):
    raw = d.to_bytes(33, "big")[-32:] if d < 1 << 256 else b"\xff" * 32
    with pytest.raises(InvalidKey):
        sm2.PrivateKey.from_bytes(raw)


def test_private_scalar_edges_accepted():
    assert sm2.PrivateKey.from_bytes((1).to_bytes(32, "big")).public_key().x == sm2.GX
    sm2.PrivateKey.from_bytes((sm2.N - 2).to_bytes(32, "big"))


def test_uid_too_long(sm2_key):
    with pytest.raises(MalformedInput):
        sm2_key.sign(b"m", uid=bytes(8192))


@settings(max_examples=10)
@given(data=st.binary(min_size=1, max_size=300))
def test_encrypt_round_trip_all_forms(sm2_key, data):
    pub = sm2_key.public_key()
    for form in ("der", "c1c3c2", "c1c2c3"):
        assert sm2_key.decrypt(pub.encrypt(data, form=form), form=form) == data


def test_raw_forms_layout(sm2_key):
    pub = sm2_key.public_key()
    der = pub.encrypt(b"hello")
    x, y, c3, c2 = sm2_der.decode_ciphertext(der)
    assert sm2_key.decrypt(der) == b"hello"
    c1 = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    assert sm2_key.decrypt(c1 + c3 + c2, form="c1c3c2") == b"hello"
    assert sm2_key.decrypt(c1 + c2 + c3, form="c1c2c3") == b"hello"
    with pytest.raises(DecryptionFailed):  # order is never guessed
        sm2_key.decrypt(c1 + c2 + c3, form="c1c3c2")


def test_decrypt_failures(sm2_key, other_key):
    ct = bytearray(sm2_key.public_key().encrypt(b"secret"))
    with pytest.raises(DecryptionFailed):
        other_key.decrypt(bytes(ct))
    ct[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        sm2_key.decrypt(bytes(ct))
    for bad in (b"", b"\x30\x03\x02\x01\x01", bytes(ct[:-3])):
        with pytest.raises(DecryptionFailed):
            sm2_key.decrypt(bad)


def test_decrypt_c1_not_on_curve(sm2_key):
    ct = sm2_key.public_key().encrypt(b"secret", form="c1c3c2")
    bad = ct[:64] + bytes([ct[64] ^ 1]) + ct[65:]
    with pytest.raises(DecryptionFailed):
        sm2_key.decrypt(bad, form="c1c3c2")


def test_encrypt_empty_rejected(sm2_key):
    with pytest.raises(MalformedInput):
        sm2_key.public_key().encrypt(b"")


def test_threads_share_keys(sm2_key):
    pub, errors = sm2_key.public_key(), []

    def work(i: int) -> None:
        try:
            for j in range(15):
                msg = b"%d-%d" % (i, j)
                pub.verify(sm2_key.sign(msg), msg)
                assert sm2_key.decrypt(pub.encrypt(msg)) == msg
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_copy_and_pickle_are_safe(sm2_key):
    pub = sm2_key.public_key()
    sig = sm2_key.sign(b"m")
    pickled = pickle.loads(pickle.dumps(pub))  # noqa: S301 - our own bytes
    for clone in (copy.copy(pub), copy.deepcopy(pub), pickled):
        assert clone == pub
        clone.verify(sig, b"m")
    assert copy.copy(sm2_key) is sm2_key
    assert copy.deepcopy(sm2_key) is sm2_key
    with pytest.raises(TypeError):
        pickle.dumps(sm2_key)


def test_private_key_cannot_be_built_from_a_pointer():
    with pytest.raises(TypeError):
        sm2.PrivateKey(12345)


def test_no_backend_means_no_secret_operations(monkeypatch, sm2_key):
    """Without libcrypto, SM2 raises BackendUnavailable: there is no pure-Python fallback."""
    ct = sm2_key.public_key().encrypt(b"m")
    monkeypatch.setattr(_openssl, "_lib", None)
    monkeypatch.setattr(_openssl, "_load_error", "OpenSSL 3 libcrypto not found (test)")
    for op in (sm2.PrivateKey.generate, lambda: sm2_key.sign(b"m"), lambda: sm2_key.decrypt(ct)):
        with pytest.raises(BackendUnavailable, match="libcrypto not found"):
            op()


@pytest.mark.parametrize(("mode", "form"), [(1, "c1c3c2"), (0, "c1c2c3")])
def test_raw_ciphertext_orders_match_gmssl(sm2_key, mode, form):
    """gmssl writes C1 without the 04 tag; mode 1 is C1C3C2, mode 0 the old C1C2C3."""
    oracle = gm_sm2.CryptSM2(
        private_key=None, public_key=gmssl_public_hex(sm2_key.public_key()), mode=mode
    )
    ct = oracle.encrypt(b"interop message")
    assert sm2_key.decrypt(b"\x04" + ct, form=form) == b"interop message"
    throwaway = sm2.PrivateKey.from_bytes(bytes(31) + b"\x07")  # gmssl decrypts throwaways only
    ours = throwaway.public_key().encrypt(b"the other way", form=form)
    gm = gm_sm2.CryptSM2(private_key="%064x" % 7, public_key="", mode=mode)  # noqa: UP031
    assert gm.decrypt(ours[1:]) == b"the other way"
