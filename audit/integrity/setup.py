"""Builds the integrity service and the field cipher from plain settings values (files, paths).

Kept out of the services so they never touch the file system for keys. In development a
missing signing key or keyring is generated (mode 0600); in production it must exist, so a
mis-mounted volume fails start-up instead of silently starting a new, unanchored key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from audit.integrity.model import IntegrityError
from audit.integrity.ports import IntegrityLog
from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService, key_id
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.sensitive.masking import FieldCipher, load_or_create_keyring
from crypto import keys
from crypto.errors import CryptoError
from crypto.sm2 import PrivateKey, PublicKey


@dataclasses.dataclass(frozen=True, slots=True)
class IntegrityConfig:
    log_path: str
    signing_key_file: str
    signing_key_password: str = ""
    trusted_key_files: tuple[str, ...] = ()
    every_events: int = 1000
    every_seconds: float = 60.0
    create_missing: bool = False


def load_signing_key(path: Path, password: str, *, create: bool) -> PrivateKey:
    """The SM2 head-signing key (PKCS#8 PEM); generated only when ``create``."""
    pw = password.encode("utf-8") or None
    if not path.exists():
        if not create:
            raise IntegrityError("The tree-head signing key file does not exist.")
        key = PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(keys.dump_private_key(key, password=pw))
        return key
    try:
        return keys.load_private_key(path.read_bytes(), pw)
    except (OSError, CryptoError) as exc:
        raise IntegrityError("The tree-head signing key cannot be loaded.") from exc


def load_trusted_keys(files: tuple[str, ...]) -> dict[str, PublicKey]:
    """Public keys of earlier (rotated-out) signing keys, by key id."""
    trusted = {}
    for name in files:
        try:
            public = keys.load_public_key(Path(name).read_bytes())
        except (OSError, CryptoError) as exc:
            raise IntegrityError("A trusted tree-head key cannot be loaded.") from exc
        trusted[key_id(public)] = public
    return trusted


def build_integrity(
    config: IntegrityConfig,
    clock: Callable[[], float],
    *,
    log: IntegrityLog | None = None,
    owns: Callable[[str], bool] | None = None,
) -> IntegrityService:
    """The service on ``log`` (default: the SQLite file at ``config.log_path``), signing heads
    for the streams ``owns`` accepts (default: all of them)."""
    key = load_signing_key(
        Path(config.signing_key_file), config.signing_key_password, create=config.create_missing
    )
    return IntegrityService(
        log if log is not None else SqliteIntegrityLog(config.log_path),
        HeadSigner(key),
        trusted=load_trusted_keys(config.trusted_key_files),
        clock=clock,
        policy=HeadPolicy(config.every_events, config.every_seconds),
        owns=owns,
    )


def build_field_cipher(keyring_file: str, *, create_missing: bool) -> FieldCipher:
    return FieldCipher(load_or_create_keyring(Path(keyring_file), create=create_missing))
