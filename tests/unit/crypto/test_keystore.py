"""Software key store: SM4-GCM wrapping, binding to key ids, KEK rotation, and the SDF seam."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from crypto import sm2, sm3
from crypto.keystore import KekError, KekRing, KeyNotFound, MemoryWrappedKeys, SoftwareKeyStore
from crypto.keystore_sdf import SdfKeyStore

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def store(ring: str, repo: MemoryWrappedKeys | None = None) -> SoftwareKeyStore:
    return SoftwareKeyStore(repo or MemoryWrappedKeys(), KekRing.parse(ring), clock=lambda: NOW)


def test_generate_sign_and_no_key_bytes_at_rest() -> None:
    repo = MemoryWrappedKeys()
    ks = store(KekRing.generate_entry("k1"), repo)
    ref = ks.generate("seal 1")
    signer = ks.signer(ref.key_id)
    sig = signer.sign(b"document")
    sm2.PublicKey.from_bytes(ref.public_key).verify(sig, b"document")
    wrapped = repo.get(ref.key_id)
    assert wrapped is not None
    assert wrapped.kek_id == "k1"
    assert ref.public_key[1:33] not in wrapped.blob  # ciphertext, not an encoding
    assert ks.get(ref.key_id) == ref


def test_fresh_store_unwraps_from_repository() -> None:
    repo = MemoryWrappedKeys()
    ring = KekRing.generate_entry("k1")
    ref = store(ring, repo).generate("a")
    signer = store(ring, repo).signer(ref.key_id)  # no cache: unwraps the blob
    sm2.PublicKey.from_bytes(ref.public_key).verify(signer.sign(b"x"), b"x")


def test_blob_bound_to_key_id_and_kek() -> None:
    repo = MemoryWrappedKeys()
    ring = KekRing.generate_entry("k1")
    ks = store(ring, repo)
    a, b = ks.generate("a"), ks.generate("b")
    wa = repo.get(a.key_id)
    assert wa is not None
    repo.put(dataclasses.replace(wa, key_id=b.key_id, public_key=b.public_key))
    with pytest.raises(KekError, match="does not unwrap"):
        store(ring, repo).signer(b.key_id)


def test_wrong_kek_fails_closed_without_leaking() -> None:
    repo = MemoryWrappedKeys()
    ref = store(KekRing.generate_entry("k1"), repo).generate("a")
    other = KekRing.generate_entry("k1")
    with pytest.raises(KekError) as info:
        store(other, repo).signer(ref.key_id)
    assert other.split(":")[1] not in str(info.value)
    with pytest.raises(KekError, match="not configured"):
        store(KekRing.generate_entry("k9"), repo).signer(ref.key_id)


def test_rotation_rewraps_everything_under_the_new_kek() -> None:
    repo = MemoryWrappedKeys()
    old = KekRing.generate_entry("k1")
    refs = [store(old, repo).generate(str(i)) for i in range(3)]
    new = KekRing.generate_entry("k2")
    rotating = store(f"{new},{old}", repo)
    assert rotating.kek_usage() == {"k1": 3}
    assert rotating.rewrap_all() == 3
    assert rotating.kek_usage() == {"k2": 3}
    assert rotating.rewrap_all() == 0
    after = store(new, repo)  # old KEK removed from the settings
    for ref in refs:
        sm2.PublicKey.from_bytes(ref.public_key).verify(after.signer(ref.key_id).sign(b"m"), b"m")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1", "id:base64"),
        ("k1:***", "base64"),
        ("k1:AAAA", "16 bytes"),
        ("k1:AAAAAAAAAAAAAAAAAAAAAA==,k1:AAAAAAAAAAAAAAAAAAAAAA==", "twice"),
    ],
)
def test_bad_rings(text: str, message: str) -> None:
    with pytest.raises(KekError, match=message):
        KekRing.parse(text)


def test_unknown_and_destroyed_keys() -> None:
    ks = store(KekRing.generate_entry("k1"))
    with pytest.raises(KeyNotFound):
        ks.signer("nope")
    ref = ks.generate("a")
    ks.signer(ref.key_id)
    ks.destroy(ref.key_id)
    with pytest.raises(KeyNotFound):
        ks.signer(ref.key_id)


class RecordingSession:
    """A GM/T 0018 session double: records what the adapter sends; not a device."""

    def __init__(self) -> None:
        self.key = sm2.PrivateKey.generate()
        self.digests: list[bytes] = []
        self.rights: list[tuple[int, bytes]] = []

    def export_sign_public_key(self, index: int) -> tuple[int, int]:
        del index
        public = self.key.public_key()
        return public.x, public.y

    def get_private_key_access_right(self, index: int, password: bytes) -> None:
        self.rights.append((index, password))

    def internal_sign(self, index: int, digest: bytes) -> tuple[int, int]:
        del index
        self.digests.append(digest)
        return 1, 2


def test_sdf_adapter_sends_the_sm2_prehash_and_encodes_der() -> None:
    session = RecordingSession()
    ks = SdfKeyStore(session, [3, 4], is_used=lambda key_id: key_id == "sdf:3", password=b"pin")
    ref = ks.generate("seal")
    assert ref.key_id == "sdf:4"
    signature = ks.signer(ref.key_id).sign(b"message", uid=b"alice")
    z = sm2.compute_z(session.key.public_key(), b"alice")
    assert session.digests == [sm3.digest(z + b"message")]
    assert session.rights == [(4, b"pin")]
    assert signature == bytes.fromhex("3006020101020102")
    with pytest.raises(KeyNotFound):
        ks.signer("sdf:9")
