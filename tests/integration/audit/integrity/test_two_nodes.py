"""Two Anbao nodes, one trail: each numbers its own streams, one PostgreSQL integrity log holds
them all, and ``anbao audit verify`` run on either node proves every stream of both.

Real servers only: the dev Elasticsearch (one audit index set for both nodes) and PostgreSQL (the
cluster database). Each node has its own data directory, so its own spool; the nodes share the
head-signing key, as a deployment mounts one key into every node.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from anbao.settings import Settings
from anbao.wiring.audit import RecorderEventSink, build_audit_store, build_recorder, with_shipper
from anbao.wiring.audit_integrity import build_audit_integrity
from anbao.wiring.cluster import cluster_engine
from audit.integrity.tables import metadata
from audit.model import Outcome
from audit.sensitive.masking import Keyring
from iam.events.model import login_event_to_ecs


def node_env(
    tmp_path: Path, node: str, database: str, elasticsearch, prefix: str
) -> dict[str, str]:
    keyring = tmp_path / "field-keys.json"  # one keyring for the deployment, as operators give it
    if not keyring.exists():
        Keyring.generate().save(keyring)
    return {
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(keyring),
        "ANBAO_CONSOLE_ENABLED": "false",
        "ANBAO_DATA_DIR": str(tmp_path / node),
        "ANBAO_CLUSTER_NODE_ID": node,
        "ANBAO_CLUSTER_DATABASE_URL": database,
        "ANBAO_SEALS_DATABASE_URL": database,
        "ANBAO_COMPLIANCE_DATABASE_URL": database,
        "ANBAO_SIEM_ALERT_STORE": "elasticsearch",
        "ANBAO_AUDIT_STORE": "elasticsearch",
        "ANBAO_AUDIT_INDEX_PREFIX": prefix,
        "ANBAO_ELASTICSEARCH_URL": elasticsearch.url,
        "ANBAO_ELASTICSEARCH_USERNAME": elasticsearch.env["ELASTICSEARCH_USERNAME"],
        "ANBAO_ELASTICSEARCH_PASSWORD": elasticsearch.env["ELASTICSEARCH_PASSWORD"],
        "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp_path / "sth.pem"),
        "ANBAO_AUDIT_INTEGRITY_HEAD_EVERY_EVENTS": "8",
        "ANBAO_KEYCLOAK_REQUIRED": "false",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anbao", "audit", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


class Node:
    """One node's recorder and shipper (its own spool) into the shared store and log."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.settings = Settings.load(env)
        self.store = build_audit_store(self.settings)
        self.integrity = build_audit_integrity(self.settings, time.time)
        recorder = build_recorder(self.settings)
        self.runtime = with_shipper(
            self.settings, recorder, self.store, on_stored=self.integrity.append_records
        )
        self.recorder = recorder

    def record(self, n: int) -> None:
        for i in range(n):
            stream = "main" if i % 3 else "system"
            self.recorder.record("seal.use", Outcome.SUCCESS, category=("iam",), stream=stream)

    def keycloak(self, n: int, node: str) -> None:
        """Keycloak's login events, as the puller hands them over."""
        sink = RecorderEventSink(self.recorder, realm="anbao")
        events = [
            {"id": f"kc-{node}-{i}", "time": 1_790_000_000_000 + i, "type": "LOGIN",
             "realmId": "anbao", "clientId": "console", "userId": f"u-{i}",
             "ipAddress": "10.0.0.7"}
            for i in range(n)
        ]  # fmt: skip
        sink.emit([login_event_to_ecs(e, "anbao") for e in events])

    def ship(self) -> None:
        assert self.runtime.shipper.drain(60)

    def close(self) -> None:
        self.runtime.stop()
        self.store.close()


@pytest.fixture
def nodes(tmp_path, database, elasticsearch) -> Iterator[dict[str, Node]]:
    prefix = f"itest-nodes-{uuid.uuid4().hex[:10]}"
    made = {n: Node(node_env(tmp_path, n, database, elasticsearch, prefix)) for n in ("a", "b")}
    yield made
    made["a"].store.delete_all()  # type: ignore[attr-defined]
    for node in made.values():
        node.close()
    engine = cluster_engine(made["a"].settings)
    with engine.begin() as conn:  # the module's database: the next test starts a new trail
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


def test_verify_on_either_node_proves_both_nodes_streams(nodes, tmp_path, database, elasticsearch):
    a, b = nodes["a"], nodes["b"]
    a.record(20)
    b.record(13)
    a.keycloak(5, "a")
    b.keycloak(4, "b")
    for node in (a, b):
        node.ship()
    a.store.refresh()  # type: ignore[attr-defined]

    prefix = a.settings.audit.index_prefix
    env_a = node_env(tmp_path, "a", database, elasticsearch, prefix)
    env_b = node_env(tmp_path, "b", database, elasticsearch, prefix)
    for env in (env_a, env_b):  # each node signs what is left unsigned of its own streams
        signed = cli(env, "sign-heads")
        assert signed.returncode == 0, signed.stderr
        node = env["ANBAO_CLUSTER_NODE_ID"]
        assert all(
            json.loads(line)["stream"].endswith("." + node) for line in signed.stdout.splitlines()
        )

    log = a.integrity.log
    assert log.streams() == ["iam.a", "iam.b", "main.a", "main.b", "system.a", "system.b"]
    assert [log.size(s) for s in log.streams()] == [5, 4, 13, 8, 7, 5]
    for env in (env_a, env_b):
        ok = cli(env, "verify")
        assert ok.returncode == 0, ok.stderr
        report = json.loads(ok.stdout)
        checked = {s["stream"]: s["checked_events"] for s in report["streams"]}
        assert checked == {
            "iam.a": 5,
            "iam.b": 4,
            "main.a": 13,
            "main.b": 8,
            "system.a": 7,
            "system.b": 5,
        }

    b.record(3)  # then node b is gone for good: node a signs its tail only when told to
    b.ship()
    assert cli(env_a, "sign-heads").stdout == ""  # nothing of node a's own is unsigned
    told = cli(env_a, "sign-heads", "--stream", "main.b")
    assert [
        (json.loads(x)["stream"], json.loads(x)["tree_size"]) for x in told.stdout.splitlines()
    ] == [("main.b", 10)], told.stderr
    a.store.refresh()  # type: ignore[attr-defined]

    forged = next(r for r in a.integrity.log.leaves("main.b", 0, 8) if r.sequence == 3)
    hits = a.store.client.search(
        index=a.store.pattern, query={"ids": {"values": [forged.event_id]}}
    )  # type: ignore[attr-defined]
    hit = hits["hits"]["hits"][0]
    a.store.client.update(  # type: ignore[attr-defined]
        index=hit["_index"], id=forged.event_id, doc={"event": {"reason": "edited"}}, refresh=True
    )
    bad = cli(env_a, "verify")
    assert bad.returncode == 1, bad.stderr
    findings = [f for s in json.loads(bad.stdout)["streams"] for f in s["findings"]]
    assert findings == [
        {"kind": "modified", "stream": "main.b", "sequence": 3, "event_id": forged.event_id}
    ]


def test_a_node_that_returns_ships_its_own_streams_where_they_stopped(nodes):
    a, b = nodes["a"], nodes["b"]
    a.record(5)
    b.record(6)
    for node in (a, b):
        node.ship()
    b.record(4)  # acknowledged into node b's spool; then node b stops before shipping them
    b.close()
    a.record(3)
    a.ship()
    a.store.refresh()  # type: ignore[attr-defined]
    log = a.integrity.log
    assert (log.size("main.b"), log.size("system.b")) == (4, 2)
    assert a.integrity.verify(a.store).ok  # the trail so far, without node b

    nodes["b"] = back = Node(b.env)  # node b returns with its spool
    back.ship()
    a.store.refresh()  # type: ignore[attr-defined]
    assert (log.size("main.b"), log.size("system.b")) == (6, 4)  # no gap, no repeat
    report = a.integrity.verify(a.store)
    assert report.ok, report.to_json()
    assert {s.stream: s.checked_events for s in report.streams} == {
        "main.a": 5,
        "system.a": 3,
        "main.b": 6,
        "system.b": 4,
    }
