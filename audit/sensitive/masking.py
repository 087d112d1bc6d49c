"""Confidentiality of personal data in audit events: SM4-GCM field encryption, masking, reveal.

Why: MLPS 2.0 level 3 asks for cryptographic protection of personal information in storage
(GB/T 22239-2019 §8.1.4.8, L3-CES1-24) and PIPL art. 51 for encryption and access control of
personal information. Sensitive fields (``audit.model.SENSITIVE_FIELDS``: ID card number,
phone, address, e-mail) are encrypted *before the event leaves the process*: the recorder calls
:meth:`FieldCipher.seal` before the spool, so the spool, the store, backups and exports only
ever hold ciphertext.

Token format (a string, so store mappings stay ``keyword``)::

    sm4gcm:1:<key id>:<base64url(aead blob)>

The blob is :func:`crypto.aead.seal` (SM4-GCM, random 96-bit IV, versioned). The AAD binds the
ciphertext to its event and field (``"anbao-audit-field" 0x00 event.id 0x00 field``), so a
ciphertext copied into another event or field fails authentication.

Keys are rotatable: the keyring has one *active* key (new events) and older keys kept for
decryption. Stored events are never re-encrypted — they are leaves of the signed Merkle tree;
retiring an old key destroys (crypto-shreds) the personal data it protects, and ``verify``
still passes because the ciphertext is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from audit.errors import AuditError
from audit.model import SENSITIVE_FIELDS, AuditEvent, PersonalData
from crypto import aead
from crypto.errors import CryptoError

TOKEN_PREFIX: Final = "sm4gcm:1:"  # noqa: S105 - a format marker, not a secret
MASK: Final = "******"
_AAD_LABEL: Final = b"anbao-audit-field"
_PERSONAL_PREFIX: Final = "personal."


class SensitiveDataError(AuditError):
    """A keyring or a sensitive field cannot be used (unknown key, bad token, bad keyring)."""

    code = "audit_sensitive_data_error"
    title = "Sensitive field cannot be processed"


@dataclasses.dataclass(frozen=True, slots=True)
class Keyring:
    """SM4 keys by id; ``active`` encrypts new events, every key decrypts."""

    active: str
    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise SensitiveDataError("The active field-encryption key is not in the keyring.")
        if any(len(k) != aead.KEY_SIZE for k in self.keys.values()):
            raise SensitiveDataError("Field-encryption keys must be 128-bit SM4 keys.")
        if any(not kid or ":" in kid for kid in self.keys):
            raise SensitiveDataError("Key ids must be non-empty and contain no ':'.")

    @classmethod
    def generate(cls) -> Keyring:
        kid = new_key_id()
        return cls(kid, {kid: aead.generate_key()})

    def rotate(self) -> Keyring:
        """A keyring with a fresh active key; old keys stay for decryption."""
        kid = new_key_id()
        return Keyring(kid, {**self.keys, kid: aead.generate_key()})

    def to_json(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "keys": {k: base64.b64encode(v).decode("ascii") for k, v in self.keys.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Keyring:
        try:
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in data["keys"].items()}
            return cls(str(data["active"]), keys)
        except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise SensitiveDataError("The field-encryption keyring is malformed.") from exc

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            return cls.from_json(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError) as exc:
            raise SensitiveDataError("The field-encryption keyring cannot be read.") from exc

    def save(self, path: Path) -> None:
        """Write with mode 0600 via a temporary file (never a half-written keyring)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(self.to_json(), indent=2), "utf-8")
        tmp.replace(path)


def new_key_id() -> str:
    return "fk-" + secrets.token_hex(6)


def load_or_create_keyring(path: Path, *, create: bool) -> Keyring:
    """The keyring at ``path``; generated on first use only when ``create`` (development)."""
    if path.exists():
        return Keyring.load(path)
    if not create:
        raise SensitiveDataError("The field-encryption keyring does not exist.")
    ring = Keyring.generate()
    ring.save(path)
    return ring


def is_token(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def _aad(event_id: str, field: str) -> bytes:
    return b"\x00".join((_AAD_LABEL, event_id.encode("utf-8"), field.encode("utf-8")))


class FieldCipher:
    """The recorder's ``EventSealer``: encrypts sensitive fields; decrypts for reveal."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def encrypt(self, event_id: str, field: str, plaintext: str) -> str:
        kid = self.keyring.active
        blob = aead.seal(self.keyring.keys[kid], plaintext.encode("utf-8"), _aad(event_id, field))
        return f"{TOKEN_PREFIX}{kid}:{base64.urlsafe_b64encode(blob).decode('ascii')}"

    def decrypt(self, event_id: str, field: str, token: str) -> str:
        if not is_token(token):
            raise SensitiveDataError(f"{field} is not an encrypted value.")
        kid, _, body = token[len(TOKEN_PREFIX) :].partition(":")
        key = self.keyring.keys.get(kid)
        if key is None:
            raise SensitiveDataError(f"{field} was encrypted with a key that is not available.")
        try:
            blob = base64.urlsafe_b64decode(body.encode("ascii"))
            return aead.open(key, blob, _aad(event_id, field)).decode("utf-8")
        except (binascii.Error, ValueError, CryptoError) as exc:
            raise SensitiveDataError(f"{field} does not decrypt.") from exc

    def seal(self, event: AuditEvent) -> AuditEvent:
        """Encrypt every non-empty sensitive field not already encrypted (idempotent)."""
        personal = event.personal
        changes = {}
        for field in dataclasses.fields(PersonalData):
            value = getattr(personal, field.name)
            if value and not is_token(value):
                changes[field.name] = self.encrypt(event.id, _PERSONAL_PREFIX + field.name, value)
        if not changes:
            return event
        return dataclasses.replace(event, personal=dataclasses.replace(personal, **changes))

    def reveal(self, document: Mapping[str, Any], fields: Iterable[str] = ()) -> dict[str, str]:
        """Plaintext of the requested (default: all present) sensitive fields of a document."""
        event_id = _get(document, "event.id")
        wanted = set(fields) or SENSITIVE_FIELDS
        unknown = wanted - SENSITIVE_FIELDS
        if unknown:
            raise SensitiveDataError(f"Not a sensitive field: {sorted(unknown)[0]}.")
        out = {}
        for field in sorted(wanted):
            token = _get(document, field)
            if token:
                out[field] = self.decrypt(str(event_id), field, str(token))
        return out


def mask_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with every sensitive field replaced by :data:`MASK` (search results, exports)."""
    masked = dict(document)
    for field in SENSITIVE_FIELDS:
        parent, _, leaf = field.rpartition(".")
        node = masked.get(parent)
        if isinstance(node, Mapping) and leaf in node:
            masked[parent] = {**node, leaf: MASK}
    return masked


def _get(document: Mapping[str, Any], dotted: str) -> Any:
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node
