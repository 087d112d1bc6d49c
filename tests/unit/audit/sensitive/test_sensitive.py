"""Sensitive fields: SM4-GCM before the spool, rotation, masking, audited reveal."""

from __future__ import annotations

import dataclasses
import json

import pytest

from audit.model import SENSITIVE_FIELDS, PersonalData
from audit.recording.recorder import Recorder
from audit.recording.spool import FsyncPolicy, Spool, SpoolConfig
from audit.sensitive.masking import MASK, FieldCipher, Keyring, SensitiveDataError, mask_document
from audit.sensitive.service import Actor, AuditEventNotFound, RevealService, in_scope
from audit.stores.sqlite import SqliteAuditStore
from crypto import aead
from tests.unit.audit.integrity.helpers import make_events

PII = PersonalData(id_number="110101199003074514", phone="13800138000", address="北京市东城区1号")


def event_with_pii(i=0):
    return dataclasses.replace(make_events(1, start=i)[0], personal=PII, sequence=None)


def test_seal_encrypts_every_sensitive_field_and_reveal_restores_it():
    cipher = FieldCipher(Keyring.generate())
    sealed = cipher.seal(event_with_pii())
    doc = sealed.to_document()
    raw = json.dumps(doc, ensure_ascii=False)
    for secret in (PII.id_number, PII.phone, PII.address):
        assert secret not in raw
    assert doc["personal"]["phone"].startswith(f"sm4gcm:1:{cipher.keyring.active}:")
    assert cipher.reveal(doc) == {
        "personal.id_number": PII.id_number,
        "personal.phone": PII.phone,
        "personal.address": PII.address,
    }
    assert cipher.seal(sealed) == sealed  # idempotent: never double-encrypted


def test_ciphertext_is_bound_to_event_and_field():
    cipher = FieldCipher(Keyring.generate())
    doc = cipher.seal(event_with_pii()).to_document()
    moved = json.loads(json.dumps(doc))
    moved["personal"]["address"] = doc["personal"]["phone"]
    with pytest.raises(SensitiveDataError):
        cipher.reveal(moved, ["personal.address"])
    other = json.loads(json.dumps(doc))
    other["event"]["id"] = "someone-else"
    with pytest.raises(SensitiveDataError):
        cipher.reveal(other, ["personal.phone"])


def test_rotation_keeps_old_events_readable(tmp_path):
    ring = Keyring.generate()
    old = FieldCipher(ring).seal(event_with_pii()).to_document()
    rotated = ring.rotate()
    assert rotated.active != ring.active
    assert ring.active in rotated.keys
    path = tmp_path / "keys.json"
    rotated.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    cipher = FieldCipher(Keyring.load(path))
    new = cipher.seal(event_with_pii(1)).to_document()
    assert rotated.active in new["personal"]["phone"]
    assert cipher.reveal(old)["personal.phone"] == PII.phone
    retired = FieldCipher(Keyring(rotated.active, {rotated.active: rotated.keys[rotated.active]}))
    with pytest.raises(SensitiveDataError, match="not available"):
        retired.reveal(old)


def test_keyring_validation():
    with pytest.raises(SensitiveDataError):
        Keyring("a", {"b": aead.generate_key()})
    with pytest.raises(SensitiveDataError):
        Keyring("a", {"a": b"short"})
    with pytest.raises(SensitiveDataError):
        Keyring.from_json({"active": "a"})


def test_mask_document_hides_all_sensitive_fields():
    doc = FieldCipher(Keyring.generate()).seal(event_with_pii()).to_document()
    masked = mask_document(doc)
    assert {f"personal.{k}" for k in masked["personal"]} <= SENSITIVE_FIELDS
    assert set(masked["personal"].values()) == {MASK}
    assert masked["event"] == doc["event"]
    assert doc["personal"]["phone"] != MASK  # the original is untouched


def test_scope():
    assert in_scope("/", "/a/b")
    assert in_scope("/", "")
    assert not in_scope("", "/a/b")  # no scope reaches nothing (deny by default)
    assert in_scope("/a", "/a/b")
    assert in_scope("/a/", "/a")
    assert not in_scope("/a", "/ab")
    assert not in_scope("/a/b", "/a")
    for climbing in ("/a/../b", "/a/./b", "/a//b", "/a/b/..", "/a/"):
        assert not in_scope("/a", climbing)


@pytest.fixture
def stack(tmp_path):
    cipher = FieldCipher(Keyring.generate())
    spool = Spool(SpoolConfig(tmp_path / "spool.sqlite3", fsync=FsyncPolicy.BATCH))
    recorder = Recorder(spool, sealer=cipher)
    store = SqliteAuditStore(tmp_path / "store.sqlite3")
    yield cipher, spool, recorder, store
    recorder.close()
    store.close()


def spooled(spool):
    return [json.loads(r.document) for r in spool.peek(100, 1 << 20)]


def test_reveal_is_audited_before_plaintext_is_returned(stack):
    cipher, spool, recorder, store = stack
    recorded = recorder.record_event(event_with_pii())
    assert PII.phone.encode() not in spool.peek(10, 1 << 20)[0].document  # sealed before the spool
    store.write_batch([recorded])
    service = RevealService(store, cipher, recorder)
    actor = Actor("u-1", "ana", ("security-analyst",), org_path="/x", scope_path="/gov")
    result = service.reveal(actor, recorded.id, reason="case 42", fields=["personal.phone"])
    assert result == {"event_id": recorded.id, "fields": {"personal.phone": PII.phone}}
    audit = [d for d in spooled(spool) if d["event"]["action"] == "audit.pii.reveal"]
    assert len(audit) == 1
    assert audit[0]["event"]["outcome"] == "success"
    assert audit[0]["resource"] == {"type": "audit_event", "id": recorded.id}
    assert audit[0]["event"]["reason"] == "case 42"
    assert audit[0]["user"]["name"] == "ana"
    assert audit[0]["labels"] == {"fields": "personal.phone"}


def test_reveal_refusals(stack):
    cipher, spool, recorder, store = stack
    recorded = recorder.record_event(event_with_pii())
    store.write_batch([recorded])
    service = RevealService(store, cipher, recorder)
    outsider = Actor("u-2", "bob", ("security-analyst",), org_path="/gov", scope_path="/other")
    with pytest.raises(AuditEventNotFound):
        service.reveal(outsider, recorded.id, reason="x")
    with pytest.raises(AuditEventNotFound):
        service.reveal(outsider, "missing", reason="x")
    with pytest.raises(SensitiveDataError):
        service.reveal(Actor("u", "a", (), scope_path="/"), recorded.id, reason="  ")
    wrong_keys = RevealService(store, FieldCipher(Keyring.generate()), recorder)
    with pytest.raises(SensitiveDataError):
        wrong_keys.reveal(Actor("u", "a", (), scope_path="/"), recorded.id, reason="why")
    outcomes = [
        d["event"]["outcome"] for d in spooled(spool) if d["event"]["action"] == "audit.pii.reveal"
    ]
    assert outcomes == ["failure"]


def test_no_plaintext_when_the_audit_record_fails(stack):
    cipher, _spool, recorder, store = stack
    recorded = recorder.record_event(event_with_pii())
    store.write_batch([recorded])
    recorder.close()  # the recorder refuses from now on
    service = RevealService(store, cipher, recorder)
    with pytest.raises(Exception, match="closed"):
        service.reveal(Actor("u", "a", (), scope_path="/"), recorded.id, reason="why")
