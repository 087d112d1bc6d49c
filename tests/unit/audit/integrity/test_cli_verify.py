"""``anbao audit verify``: exit 0 when intact, 1 with a report naming the tampering."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from click.testing import CliRunner

from anbao.cli import main
from anbao.settings import Settings
from anbao.wiring.audit import spool_config
from anbao.wiring.audit_integrity import build_audit_integrity
from audit.recording.spool import Spool
from audit.stores.sqlite import SqliteAuditStore
from tests.unit.audit.integrity.helpers import make_events


@pytest.fixture
def configured(tmp_path, monkeypatch):
    env = {
        "ANBAO_AUDIT_SQLITE_PATH": str(tmp_path / "store.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp_path / "integrity.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp_path / "sth.pem"),
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp_path / "fields.json"),
        "ANBAO_AUDIT_INTEGRITY_HEAD_EVERY_EVENTS": "10",
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.load(env)
    store = SqliteAuditStore(settings.audit.sqlite_path)
    integrity = build_audit_integrity(settings, time.time)
    events = make_events(25)
    store.write_batch(events)
    for i in range(0, 25, 10):
        integrity.append(events[i : i + 10])
    integrity.log.close()
    store.close()
    return tmp_path, events


def run(*args):
    return CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)


def test_verify_ok_then_tampered(configured):
    tmp_path, events = configured
    ok = run("verify")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["ok"] is True
    assert report["streams"][0]["signed_size"] == 20
    assert report["streams"][0]["unsigned_tail"] == 5
    signed = run("sign-heads")
    assert json.loads(signed.stdout)["tree_size"] == 25
    with sqlite3.connect(tmp_path / "store.sqlite3") as db:
        db.execute("DELETE FROM events WHERE event_id = ?", (events[6].id,))
    bad = run("verify")
    assert bad.exit_code == 1
    findings = json.loads(bad.stdout)["streams"][0]["findings"]
    assert findings == [
        {"kind": "deleted", "stream": "main", "sequence": 6, "event_id": events[6].id}
    ]
    assert "TAMPERING" in bad.stderr
    # Each verdict is in the audit trail too: the failure is what audit_verify_failed detects.
    verdicts = [(d["event"]["outcome"], d["labels"]) for d in _spooled(tmp_path, "audit.verify")]
    assert [o for o, _ in verdicts] == ["success", "failure"]
    assert verdicts[1][1]["findings_deleted"] == "1"


def _spooled(tmp_path, action):
    """The documents of ``action`` waiting in the service's spool (no shipper runs here)."""
    spool = Spool(
        spool_config(Settings.load({"ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3")}))
    )
    try:
        docs = [json.loads(r.document) for r in spool.peek(1000, 1 << 24)]
    finally:
        spool.close()
    return [d for d in docs if d["event"]["action"] == action]


def test_verify_range_and_anchor(configured):
    tmp_path, _events = configured
    heads = run("heads")
    assert len(heads.stdout.splitlines()) == 2
    anchor = tmp_path / "anchor.ndjson"
    anchor.write_text(heads.stdout)
    result = run("verify", "--from", "10", "--to", "20", "--anchor", str(anchor))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["streams"][0]["checked_events"] == 10
    assert run("verify", "--from", "yesterday").exit_code == 2


def test_rotate_field_key(configured):
    first = json.loads(run("rotate-field-key").stdout)
    second = json.loads(run("rotate-field-key").stdout)
    assert second["active"] != first["active"]
    assert first["active"] in second["keys"]
