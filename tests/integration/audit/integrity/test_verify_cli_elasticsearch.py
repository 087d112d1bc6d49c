"""``anbao audit verify`` as an operator runs it, against the real Elasticsearch."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

from anbao.audit_wiring import build_audit_integrity, build_audit_store
from anbao.settings import Settings
from audit.ports import RawDocument
from tests.unit.audit.integrity.helpers import make_events


def test_cli_verify_against_elasticsearch(elasticsearch, tmp_path):
    env = {
        # All state in the test's directory: `audit verify` records its verdict into the
        # service's spool, which would otherwise be the user's (~/.local/state/anbao).
        "ANBAO_DATA_DIR": str(tmp_path),
        "ANBAO_AUDIT_STORE": "elasticsearch",
        "ANBAO_AUDIT_INDEX_PREFIX": f"itest-cli-{uuid.uuid4().hex[:10]}",
        "ANBAO_ELASTICSEARCH_URL": elasticsearch.url,
        "ANBAO_ELASTICSEARCH_USERNAME": elasticsearch.env["ELASTICSEARCH_USERNAME"],
        "ANBAO_ELASTICSEARCH_PASSWORD": elasticsearch.env["ELASTICSEARCH_PASSWORD"],
        "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp_path / "integrity.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp_path / "sth.pem"),
        "ANBAO_AUDIT_INTEGRITY_HEAD_EVERY_EVENTS": "8",
        "ANBAO_KEYCLOAK_REQUIRED": "false",
    }
    settings = Settings.load(env)
    store = build_audit_store(settings)
    integrity = build_audit_integrity(settings, time.time)
    try:
        events = make_events(20)
        for i in range(0, 20, 8):
            chunk = events[i : i + 8]
            store.write_documents(
                [
                    RawDocument(e.id, e.to_document()["@timestamp"], e.canonical_bytes())
                    for e in chunk
                ]
            )
            integrity.append(chunk)
        integrity.issue("main")
        store.refresh()

        def run():
            return subprocess.run(
                [sys.executable, "-m", "anbao", "audit", "verify"],
                env={"PATH": "/usr/bin:/bin", **env},
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )

        ok = run()
        assert ok.returncode == 0, ok.stderr
        assert (tmp_path / "audit-spool.sqlite3").exists(), "the verdict went to another spool"
        assert json.loads(ok.stdout)["streams"][0]["checked_events"] == 20
        hits = store.client.search(index=store.pattern, query={"ids": {"values": [events[13].id]}})
        hit = hits["hits"]["hits"][0]
        store.client.delete(index=hit["_index"], id=events[13].id, refresh=True)
        bad = run()
        assert bad.returncode == 1, bad.stderr
        findings = json.loads(bad.stdout)["streams"][0]["findings"]
        assert findings == [
            {"kind": "deleted", "stream": "main", "sequence": 13, "event_id": events[13].id}
        ]
    finally:
        integrity.log.close()
        store.delete_all()
        store.close()
