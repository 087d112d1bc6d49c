"""Loading the head-signing key, trusted old keys and the field keyring from files."""

from __future__ import annotations

import time

import pytest

from audit.integrity.model import IntegrityError
from audit.integrity.service import key_id
from audit.integrity.setup import (
    IntegrityConfig,
    build_field_cipher,
    build_integrity,
    load_signing_key,
    load_trusted_keys,
)
from audit.sensitive.masking import SensitiveDataError
from crypto import keys, sm2


def test_signing_key_created_only_in_development(tmp_path):
    path = tmp_path / "sth.pem"
    with pytest.raises(IntegrityError):
        load_signing_key(path, "", create=False)
    key = load_signing_key(path, "", create=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_signing_key(path, "", create=False).public_key() == key.public_key()


def test_encrypted_signing_key_and_wrong_password(tmp_path):
    key = sm2.PrivateKey.generate()
    path = tmp_path / "sth.pem"
    path.write_bytes(keys.dump_private_key(key, password=b"s3cret", iterations=1000))
    assert load_signing_key(path, "s3cret", create=False).public_key() == key.public_key()
    with pytest.raises(IntegrityError) as info:
        load_signing_key(path, "wrong", create=False)
    assert "s3cret" not in str(info.value)


def test_rotated_key_stays_trusted(tmp_path):
    old, new = sm2.PrivateKey.generate(), sm2.PrivateKey.generate()
    (tmp_path / "old.pem").write_bytes(keys.dump_private_key(old))
    (tmp_path / "old.pub.pem").write_bytes(keys.dump_public_key(old.public_key()))
    (tmp_path / "new.pem").write_bytes(keys.dump_private_key(new))
    base = {"log_path": str(tmp_path / "log.sqlite3")}
    first = build_integrity(
        IntegrityConfig(signing_key_file=str(tmp_path / "old.pem"), **base), time.time
    )
    from tests.unit.audit.integrity.helpers import MemoryStore, make_events

    store = MemoryStore()
    events = make_events(5)
    store.write_batch(events)
    first.append(events)
    first.issue("main")
    first.log.close()
    second = build_integrity(
        IntegrityConfig(
            signing_key_file=str(tmp_path / "new.pem"),
            trusted_key_files=(str(tmp_path / "old.pub.pem"),),
            **base,
        ),
        time.time,
    )
    assert set(second.trusted) == {key_id(old.public_key()), key_id(new.public_key())}
    assert second.verify(store).ok
    untrusting = build_integrity(
        IntegrityConfig(signing_key_file=str(tmp_path / "new.pem"), **base), time.time
    )
    assert not untrusting.verify(store).ok
    second.log.close()
    untrusting.log.close()
    with pytest.raises(IntegrityError):
        load_trusted_keys((str(tmp_path / "missing.pem"),))


def test_field_keyring_created_only_in_development(tmp_path):
    with pytest.raises(SensitiveDataError):
        build_field_cipher(str(tmp_path / "k.json"), create_missing=False)
    cipher = build_field_cipher(str(tmp_path / "k.json"), create_missing=True)
    assert (
        build_field_cipher(str(tmp_path / "k.json"), create_missing=False).keyring == cipher.keyring
    )
