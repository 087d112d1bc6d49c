"""Ports of the seal key store: what the seal lifecycle needs of a place that holds private keys.

Two implementations exist or are planned behind the same :class:`KeyStore` role:

* ``crypto.keystore.SoftwareKeyStore``: each private key is PKCS#8-encoded and encrypted with
  SM4-GCM (``crypto.aead``) under a key-encryption key (KEK) from the settings; the wrapped
  blobs live wherever a :class:`WrappedKeyRepository` puts them (the seal registry's database).
* ``crypto.keystore_sdf.SdfKeyStore``: keys generated and kept inside a GM/T 0018 (SDF) or
  PKCS#11 cryptographic device, which only ever returns signatures (docs/seal-keys.md).

Callers get a :class:`~crypto.pki.SigningKey` for a key id and never see key bytes, so
swapping the software store for a device changes the composition root, not the callers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from crypto.pki import SigningKey


@dataclass(frozen=True)
class KeyRef:
    """A stored key pair: its id, a human label and the public point 04||x||y."""

    key_id: str
    label: str
    public_key: bytes = field(repr=False)


@dataclass(frozen=True)
class WrappedKey:
    """A private key encrypted under the KEK ``kek_id`` (``crypto.aead`` blob, version 1)."""

    key_id: str
    label: str
    kek_id: str
    public_key: bytes = field(repr=False)
    blob: bytes = field(repr=False)
    created_at: datetime


class KeyStore(Protocol):
    """Holds SM2 private keys; hands out signers, never the keys themselves."""

    def generate(self, label: str) -> KeyRef:
        """Create a new SM2 key pair inside the store and return its reference."""
        ...

    def signer(self, key_id: str) -> SigningKey:
        """A signer for ``key_id``; raises ``KeyNotFound`` if there is no such key."""
        ...

    def get(self, key_id: str) -> KeyRef:
        """The reference (public part) of ``key_id``; raises ``KeyNotFound``."""
        ...

    def destroy(self, key_id: str) -> None:
        """Delete the key for good (e.g. after its seal is revoked and archived)."""
        ...


class WrappedKeyRepository(Protocol):
    """Persistence of wrapped keys for the software store (database, file, memory)."""

    def put(self, key: WrappedKey) -> None:
        """Insert or replace the wrapped key with ``key.key_id``."""
        ...

    def get(self, key_id: str) -> WrappedKey | None:
        """The wrapped key, or None."""
        ...

    def delete(self, key_id: str) -> None:
        """Remove it (no error when absent)."""
        ...

    def all(self) -> Iterable[WrappedKey]:
        """Every wrapped key (for KEK rotation)."""
        ...
