"""Losing an Elasticsearch node during ingest loses no acknowledged audit event (issue 20).

Anbao's recording path as the service wires it (spool, recorder, shipper into the Elasticsearch
audit store, tamper-evidence leaves as the shipper's ``on_stored``) ingests a stream of events
into the three-node cluster of ``deploy/cluster/elasticsearch.sh``, with ``elasticsearch.url``
naming all three nodes. In the middle, the node holding the audit index's primary is killed
with SIGKILL; ingestion goes on through the other two (the replica is promoted); the node is
brought back. Then every event the recorder acknowledged is in Elasticsearch exactly once, and
``anbao audit verify`` proves the trail against its signed heads. Every wait is for a condition,
with a generous timeout: the verdict does not depend on the machine's speed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import typing
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anbao.settings import Settings
from anbao.wiring.audit import AuditRuntime, build_audit_runtime, build_audit_store
from anbao.wiring.audit_integrity import build_audit_integrity
from audit.integrity.service import IntegrityService
from audit.model import ResourceRef, UserInfo
from audit.stores.elasticsearch import ElasticsearchAuditStore
from tests.integration.cluster.es_cluster import EsCluster, script


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f}s: {what}", pytrace=False)
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Producers:
    """Threads recording events through the recorder; ``acked`` holds the ids it accepted."""

    def __init__(self, runtime: AuditRuntime, threads: int = 2) -> None:
        self.runtime = runtime
        self.acked: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, worker: int) -> None:
        recorder = self.runtime.recorder
        n = 0
        try:
            while not self._stop.is_set():
                n += 1
                event = recorder.record(
                    "seal.use",
                    "success",
                    category=("iam",),
                    user=UserInfo(f"u-{worker}-{n % 50}", f"clerk{n % 50}", ("seal_user",)),
                    org_path="/gov/prov/city",
                    source_ip="10.20.30.40",
                    resource=ResourceRef("seal", f"seal-{n % 20}", "Contract seal"),
                    labels={"document_id": f"doc-{worker}-{n}"},
                )
                self.acked.append(event.id)
                time.sleep(0.002)  # a steady stream, not a flood the spool would only buffer
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def __enter__(self) -> Producers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


@pytest.fixture
def anbao_env(es_cluster: EsCluster, tmp_path: Path) -> dict[str, str]:
    """Anbao's settings for the cluster: every node, the limited user, the cluster CA."""
    return {
        "ANBAO_DATA_DIR": str(tmp_path),
        "ANBAO_AUDIT_STORE": "elasticsearch",
        # anbao-* is what the cluster's `anbao` role may touch; no overlap with anbao-audit-*
        "ANBAO_AUDIT_INDEX_PREFIX": f"anbao-ftest-{uuid.uuid4().hex[:10]}",
        "ANBAO_ELASTICSEARCH_URL": es_cluster.url,
        "ANBAO_ELASTICSEARCH_USERNAME": es_cluster.env["ELASTICSEARCH_USERNAME"],
        "ANBAO_ELASTICSEARCH_PASSWORD": es_cluster.env["ELASTICSEARCH_PASSWORD"],
        "ANBAO_ELASTICSEARCH_CA_FILE": es_cluster.env["ELASTICSEARCH_CA_FILE"],
        "ANBAO_AUDIT_INTEGRITY_HEAD_EVERY_EVENTS": "500",
        "ANBAO_KEYCLOAK_REQUIRED": "false",
    }


@pytest.fixture
def pipeline(
    anbao_env: dict[str, str],
) -> Iterator[tuple[AuditRuntime, ElasticsearchAuditStore, IntegrityService]]:
    settings = Settings.load(anbao_env)
    store = build_audit_store(settings)
    assert isinstance(store, ElasticsearchAuditStore)
    integrity = build_audit_integrity(settings, time.time)
    runtime = build_audit_runtime(settings, store, on_stored=integrity.append_records)
    try:
        yield runtime, store, integrity
    finally:
        runtime.stop()
        integrity.log.close()
        store.delete_all()
        store.close()


def primary_node(es_cluster: EsCluster, pattern: str) -> tuple[str, int]:
    """The name and server process id of a node holding a primary shard of ``pattern``."""
    admin = es_cluster.admin()
    shards = admin.cat.shards(index=pattern, format="json", h="index,prirep,state,node")
    rows = typing.cast(list[dict[str, str]], shards.body)
    primary = next(s for s in rows if s["prirep"] == "p" and s["state"] == "STARTED")
    nodes = admin.nodes.info(node_id=primary["node"], metric="process")["nodes"]
    (info,) = nodes.values()
    admin.close()
    return primary["node"], int(info["process"]["id"])


def index_green(es_cluster: EsCluster, pattern: str) -> bool:
    admin = es_cluster.admin()
    health = admin.options(ignore_status=408).cluster.health(  # 408: not green yet
        index=pattern, wait_for_status="green", timeout="5s"
    )
    admin.close()
    return not health["timed_out"] and health["number_of_nodes"] == 3


def test_killing_the_primarys_node_loses_no_acknowledged_event(
    es_cluster: EsCluster,
    anbao_env: dict[str, str],
    pipeline: tuple[AuditRuntime, ElasticsearchAuditStore, IntegrityService],
) -> None:
    runtime, store, integrity = pipeline

    def shipped() -> int:
        return runtime.shipper.counters.shipped

    runtime.start()
    with Producers(runtime) as producers:
        wait_for("the first 1000 events stored", lambda: shipped() >= 1000)
        # one primary and its replica on two of the three nodes (auto_expand_replicas 0-1)
        wait_for("the audit index green", lambda: index_green(es_cluster, store.pattern))
        node, pid = primary_node(es_cluster, store.pattern)
        at_kill = shipped()
        os.kill(pid, signal.SIGKILL)
        wait_for(f"{node} (pid {pid}) gone", lambda: not alive(pid), 30)
        wait_for(
            f"2000 more events stored while {node} is down",
            lambda: shipped() >= at_kill + 2000,
            180,
        )
        up = script("up")
        assert up.returncode == 0, up.stdout + up.stderr
        wait_for(f"{node} back, the index green", lambda: index_green(es_cluster, store.pattern))
        back = shipped()
        wait_for("500 more events stored", lambda: shipped() >= back + 500)
    assert not producers.errors, producers.errors
    runtime.stop_shipping()
    assert runtime.shipper.drain(timeout=120), "the spool did not drain into the cluster"
    integrity.issue("main")
    store.refresh()

    acked = producers.acked
    assert len(set(acked)) == len(acked)
    assert store.streams().get("main") == len(acked)  # every acknowledged event, once each
    assert sorted(d["event"]["id"] for d in store.scan("main", batch_size=5000)) == sorted(acked)
    doubles = store.client.search(
        index=store.pattern,
        size=0,
        aggs={"ids": {"terms": {"field": "event.id", "min_doc_count": 2, "size": 10}}},
    )
    assert doubles["aggregations"]["ids"]["buckets"] == []
    assert set(store.streams()) <= {"main", "system"}  # system: the shipper's own self-events
    verify = subprocess.run(
        [sys.executable, "-m", "anbao", "audit", "verify", "--stream", "main"],
        env={"PATH": "/usr/bin:/bin", **anbao_env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    (report,) = json.loads(verify.stdout)["streams"]
    assert report["checked_events"] == len(acked)
    assert report["findings"] == []
