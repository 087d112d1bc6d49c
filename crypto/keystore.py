"""Software key store for seal private keys: SM4-GCM key wrapping under a rotatable KEK.

Each SM2 private key is encoded as PKCS#8 DER (``crypto.keys``) and sealed with
``crypto.aead`` (SM4-GCM, random 96-bit IV, version byte) under the active key-encryption key.
The AAD binds the blob to its key id and KEK id, so a blob copied onto another key's row, or
relabelled with another KEK id, fails authentication instead of yielding the wrong key.

The KEK ring comes from the settings as ``id:base64[,id:base64...]``; the first entry is the
active one, the others only unwrap. Rotation (:meth:`SoftwareKeyStore.rewrap_all`) re-encrypts
every blob under the active KEK, after which the old KEKs can be removed from the settings.
This protects keys at rest in the database; it is not a substitute for a certified device
(GM/T 0028 level 2+), for which ``crypto.keystore_sdf`` documents the port.
"""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from crypto import aead, keys, sm2
from crypto.errors import CryptoError, DecryptionFailed
from crypto.keystore_ports import KeyRef, WrappedKey, WrappedKeyRepository
from crypto.pki import SigningKey

_AAD_PREFIX = b"anbao-keystore-v1"
_MAX_CACHED = 256


class KeyStoreError(CryptoError):
    """Base class of key store failures."""

    code = "keystore_error"
    title = "Key store operation failed"


class KeyNotFound(KeyStoreError):
    """No key with that id."""

    code = "keystore_key_not_found"
    title = "Key not found"


class KekError(KeyStoreError):
    """The KEK ring is malformed, or a blob's KEK is not in the ring, or unwrapping failed."""

    code = "keystore_kek_error"
    title = "Key-encryption key problem"


@dataclass(frozen=True)
class KekRing:
    """Key-encryption keys by id; ``active`` wraps, all of them unwrap."""

    active: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __repr__(self) -> str:
        return f"KekRing(active={self.active!r}, ids={sorted(self.keys)!r})"

    @classmethod
    def parse(cls, text: str) -> KekRing:
        """From ``id:base64,id:base64`` (first is active); never echoes key material."""
        entries: dict[str, bytes] = {}
        order: list[str] = []
        for item in (part.strip() for part in text.split(",")):
            kek_id, sep, value = item.partition(":")
            if not sep or not kek_id or not kek_id.isascii() or not kek_id.isprintable():
                raise KekError("each KEK entry must be 'id:base64'")
            try:
                key = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise KekError(f"KEK {kek_id!r} is not valid base64") from exc
            if len(key) != aead.KEY_SIZE:
                raise KekError(f"KEK {kek_id!r} must be {aead.KEY_SIZE} bytes")
            if kek_id in entries:
                raise KekError(f"KEK id {kek_id!r} appears twice")
            entries[kek_id] = key
            order.append(kek_id)
        return cls(active=order[0], keys=entries)

    @staticmethod
    def generate_entry(kek_id: str) -> str:
        """A new ``id:base64`` entry with a fresh random key (for ``anbao seal keys new-kek``)."""
        return f"{kek_id}:{base64.b64encode(aead.generate_key()).decode()}"


def _aad(key_id: str, kek_id: str) -> bytes:
    return b"|".join((_AAD_PREFIX, key_id.encode(), kek_id.encode()))


def _new_key_id() -> str:
    return f"key-{uuid.uuid4().hex}"


class SoftwareKeyStore:
    """``KeyStore`` over a :class:`WrappedKeyRepository`, wrapping with SM4-GCM under a KEK."""

    def __init__(
        self,
        repository: WrappedKeyRepository,
        ring: KekRing,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] = _new_key_id,
    ) -> None:
        self._repo = repository
        self._ring = ring
        self._clock = clock
        self._new_id = new_id
        self._cache: dict[str, sm2.PrivateKey] = {}
        self._lock = threading.Lock()

    def generate(self, label: str) -> KeyRef:
        """New key pair, wrapped under the active KEK and stored."""
        key = sm2.PrivateKey.generate()
        key_id = self._new_id()
        self._repo.put(self._wrap(key_id, label, key, self._clock()))
        return KeyRef(key_id, label, key.public_key().to_bytes())

    def get(self, key_id: str) -> KeyRef:
        """Public reference of a stored key."""
        wrapped = self._load(key_id)
        return KeyRef(wrapped.key_id, wrapped.label, wrapped.public_key)

    def signer(self, key_id: str) -> SigningKey:
        """The unwrapped key (cached in libcrypto memory, never in Python bytes)."""
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        key = self._unwrap(self._load(key_id))
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key_id] = key
        return key

    def destroy(self, key_id: str) -> None:
        """Delete the wrapped key and forget the cached one."""
        with self._lock:
            self._cache.pop(key_id, None)
        self._repo.delete(key_id)

    def rewrap_all(self) -> int:
        """Re-encrypt every key not under the active KEK; returns how many were rewrapped."""
        count = 0
        for wrapped in list(self._repo.all()):
            if wrapped.kek_id == self._ring.active:
                continue
            key = self._unwrap(wrapped)
            self._repo.put(self._wrap(wrapped.key_id, wrapped.label, key, wrapped.created_at))
            count += 1
        return count

    def kek_usage(self) -> dict[str, int]:
        """How many keys each KEK id wraps (to know when an old KEK can be dropped)."""
        usage: dict[str, int] = {}
        for wrapped in self._repo.all():
            usage[wrapped.kek_id] = usage.get(wrapped.kek_id, 0) + 1
        return usage

    def _load(self, key_id: str) -> WrappedKey:
        wrapped = self._repo.get(key_id)
        if wrapped is None:
            raise KeyNotFound(f"no key {key_id!r} in the key store")
        return wrapped

    def _wrap(self, key_id: str, label: str, key: sm2.PrivateKey, created: datetime) -> WrappedKey:
        kek_id = self._ring.active
        pkcs8 = keys.dump_private_key(key, encoding="der")
        blob = aead.seal(self._ring.keys[kek_id], pkcs8, _aad(key_id, kek_id))
        return WrappedKey(key_id, label, kek_id, key.public_key().to_bytes(), blob, created)

    def _unwrap(self, wrapped: WrappedKey) -> sm2.PrivateKey:
        kek = self._ring.keys.get(wrapped.kek_id)
        if kek is None:
            raise KekError(
                f"key {wrapped.key_id!r} is wrapped under KEK {wrapped.kek_id!r}, not configured"
            )
        try:
            pkcs8 = aead.open(kek, wrapped.blob, _aad(wrapped.key_id, wrapped.kek_id))
        except DecryptionFailed as exc:
            raise KekError(
                f"key {wrapped.key_id!r} does not unwrap (wrong KEK or tampered)"
            ) from exc
        key = keys.load_private_key(pkcs8)
        if key.public_key().to_bytes() != wrapped.public_key:
            raise KekError(f"key {wrapped.key_id!r} does not match its stored public key")
        return key


class MemoryWrappedKeys:
    """In-memory :class:`WrappedKeyRepository` (tests, one-shot CLI runs)."""

    def __init__(self) -> None:
        self._items: dict[str, WrappedKey] = {}

    def put(self, key: WrappedKey) -> None:
        """Insert or replace."""
        self._items[key.key_id] = key

    def get(self, key_id: str) -> WrappedKey | None:
        """Look up."""
        return self._items.get(key_id)

    def delete(self, key_id: str) -> None:
        """Remove."""
        self._items.pop(key_id, None)

    def all(self) -> Iterable[WrappedKey]:
        """Everything."""
        return list(self._items.values())
