"""Port for a hardware cryptographic device: GM/T 0018-2012 SDF (or PKCS#11 with the SM2 mechs).

Production seal keys belong in a certified device (GM/T 0028 security level 2 or higher, as
GB/T 39786 level 3 asks), where the private key never leaves the hardware. This module is the
seam: :class:`SdfSession` names the few GM/T 0018 functions the seal service needs, and
:class:`SdfKeyStore` implements the platform's ``KeyStore`` role on top of any object that
provides them. What is *not* here is a binding to a real device: each vendor ships its own
``libsdf.so``; production writes a small ctypes class with these methods around it (see
docs/seal-keys.md) and passes it to :class:`SdfKeyStore` in the composition root. Nothing in
this repository pretends to be such a device.

GM/T 0018 §6.3.4 ``SDF_InternalSign_ECC`` signs a 32-byte digest ``e``, so the SM2 pre-hash
``e = SM3(Z || M)`` (GB/T 32918.2 §6.1, Z per §5.5 with the signer's user id) is computed here,
outside the device; only the scalar multiplication with the private key happens inside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from crypto import sm2, sm2_der, sm3
from crypto.keystore import KeyNotFound, KeyStoreError
from crypto.keystore_ports import KeyRef
from crypto.pki import DEFAULT_UID, SigningKey, VerifyingKey

_PREFIX = "sdf:"


class SdfSession(Protocol):
    """An open GM/T 0018 session (``SDF_OpenDevice`` + ``SDF_OpenSession`` already done)."""

    def export_sign_public_key(self, index: int) -> tuple[int, int]:
        """``SDF_ExportSignPublicKey_ECC`` (§6.3.2): the affine point of signing key ``index``."""
        ...

    def get_private_key_access_right(self, index: int, password: bytes) -> None:
        """``SDF_GetPrivateKeyAccessRight`` (§6.2.8); raises on a wrong password."""
        ...

    def internal_sign(self, index: int, digest: bytes) -> tuple[int, int]:
        """``SDF_InternalSign_ECC`` (§6.3.4): (r, s) over the 32-byte ``digest``."""
        ...


class SdfSigner:
    """A :class:`~crypto.pki.SigningKey` whose private half lives in the device."""

    def __init__(self, session: SdfSession, index: int, public: sm2.PublicKey) -> None:
        self._session = session
        self._index = index
        self._public = public

    def public_key(self) -> VerifyingKey:
        """The key's public half, as exported by the device."""
        return self._public

    def sign(self, data: bytes, *, uid: bytes = DEFAULT_UID) -> bytes:
        """DER SM2 signature: ``e = SM3(Z || data)`` here, ``(r, s)`` from the device."""
        digest = sm3.digest(sm2.compute_z(self._public, uid) + data)
        r, s = self._session.internal_sign(self._index, digest)
        return sm2_der.encode_signature(r, s)


class SdfKeyStore:
    """``KeyStore`` over device key slots provisioned by the device's management tool.

    GM/T 0018 has no call that creates an *internal* key pair, so ``generate`` hands out the
    next free slot from ``slots``; ``is_used`` (backed by the registry's records) says which
    are taken. Key ids are ``sdf:<index>``. ``password`` is the slot's access password
    (``SDF_GetPrivateKeyAccessRight``), read from a secret in the settings.
    """

    def __init__(
        self,
        session: SdfSession,
        slots: Sequence[int],
        *,
        is_used: Callable[[str], bool],
        password: bytes = b"",
    ) -> None:
        self._session = session
        self._slots = tuple(slots)
        self._is_used = is_used
        self._password = password

    def generate(self, label: str) -> KeyRef:
        """The next unused provisioned slot."""
        for index in self._slots:
            key_id = f"{_PREFIX}{index}"
            if not self._is_used(key_id):
                return KeyRef(key_id, label, self._public(index).to_bytes())
        raise KeyStoreError("no free key slot left in the cryptographic device")

    def get(self, key_id: str) -> KeyRef:
        """The slot's public key."""
        return KeyRef(key_id, key_id, self._public(self._index(key_id)).to_bytes())

    def signer(self, key_id: str) -> SigningKey:
        """A device-backed signer; asks the device for access to the slot first."""
        index = self._index(key_id)
        self._session.get_private_key_access_right(index, self._password)
        return SdfSigner(self._session, index, self._public(index))

    def destroy(self, key_id: str) -> None:
        """Slots are erased with the device's management tool; refuse here, loudly."""
        raise KeyStoreError(f"erase {key_id!r} with the device's management tool")

    def _index(self, key_id: str) -> int:
        text = key_id.removeprefix(_PREFIX)
        if not key_id.startswith(_PREFIX) or not text.isdigit() or int(text) not in self._slots:
            raise KeyNotFound(f"no device key {key_id!r}")
        return int(text)

    def _public(self, index: int) -> sm2.PublicKey:
        x, y = self._session.export_sign_public_key(index)
        return sm2.PublicKey.from_point(x, y)
