"""Fault tests (issue 5): the real service under uvicorn workers, the real Elasticsearch.

Each HTTP request to the service is recorded by the audit middleware before its response leaves,
with the client's ``X-Request-ID`` as ``trace.id``: a 200 response is an acknowledged audit event.
After each fault, every acknowledged event must be in the index exactly once, and each stream's
sequence numbers must run 0..n-1 without gap or repeat.

* SIGKILL of the whole service (master and workers) mid-ingest, then a restart.
* Several workers (uvicorn ``--workers 3``) recording at once into one spool.
* Elasticsearch stopped during ingest, then restarted: a second Elasticsearch on port 9250,
  started by ``deploy/local/elasticsearch.sh`` with ``ANBAO_ELASTICSEARCH_PORT``/``_BASE`` and
  ``ANBAO_STATE`` overrides, so the shared instance other tests use is never stopped.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audit.stores.elasticsearch import ElasticsearchAuditStore
from tests.integration.audit.conftest import es_store_for
from tests.integration.conftest import SCRIPTS, Server

FAULT_ES_PORT = 9250


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``uvicorn anbao.asgi:app`` in its own session, so SIGKILL reaches master and workers."""

    def __init__(
        self, es: ElasticsearchAuditStore, server: Server, tmp: Path, workers: int, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ANBAO_AUDIT_STORE": "elasticsearch",
            "ANBAO_ELASTICSEARCH_URL": server.url,
            "ANBAO_ELASTICSEARCH_USERNAME": server.env["ELASTICSEARCH_USERNAME"],
            "ANBAO_ELASTICSEARCH_PASSWORD": server.env["ELASTICSEARCH_PASSWORD"],
            "ANBAO_ELASTICSEARCH_TIMEOUT_SECONDS": "3",
            "ANBAO_AUDIT_INDEX_PREFIX": es.prefix,
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "unused.sqlite3"),
            "ANBAO_AUDIT_SKIP_PATHS": "/metrics",
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth-key.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "field-keys.json"),
            "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp / 'compliance.sqlite3'}",
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "siem-alerts.sqlite3"),
            **env,
        }
        self.workers = workers
        #: Its working directory: a default path no setting here names lands there, not in
        #: the checkout (where ``make run`` would ship its leftovers).
        self.home = tmp
        self.log = tmp / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "uvicorn", "anbao.asgi:app", "--port", str(self.port)]
        cmd += ["--workers", str(self.workers), "--log-level", "warning"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=self.env, cwd=self.home, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/metrics", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        pytest.fail(f"service did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class Load:
    """Client threads sending requests; keeps the request ids the service acknowledged."""

    def __init__(self, url: str, threads: int = 6) -> None:
        self.url = url
        self.acked: list[str] = []
        self.errors = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                rid = f"rq-{uuid.uuid4().hex}"
                try:
                    status = client.get(
                        self.url + "/healthz", headers={"X-Request-ID": rid}
                    ).status_code
                except httpx.HTTPError:
                    self.errors += 1
                    time.sleep(0.05)
                    continue
                if status == 200:
                    with self._lock:
                        self.acked.append(rid)

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acked) >= count, f"only {len(self.acked)} requests acknowledged"

    def stop(self) -> list[str]:
        self._stop.set()
        for t in self._threads:
            t.join(30)
        return list(self.acked)


def stored_api_events(es: ElasticsearchAuditStore) -> list[dict[str, object]]:
    es.refresh()
    return [dict(d) for d in es.scan("api", batch_size=5000)]


def assert_exactly_once(es: ElasticsearchAuditStore, acked: list[str], timeout: float = 90) -> None:
    """Wait for the shipper, then: each acked id once, sequences gap- and repeat-free."""
    deadline = time.monotonic() + timeout
    while True:
        docs = stored_api_events(es)
        traces = collections.Counter(str(d["trace"]["id"]) for d in docs)  # type: ignore[index]
        missing = [rid for rid in acked if traces[rid] == 0]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not missing, f"{len(missing)} acknowledged events missing, e.g. {missing[:3]}"
    assert all(traces[rid] == 1 for rid in acked)
    seqs = sorted(int(d["anbao"]["sequence"]) for d in docs)  # type: ignore[index]
    assert seqs == list(range(len(seqs)))
    assert len({d["event"]["id"] for d in docs}) == len(docs)  # type: ignore[index]


def assert_verify_passes(service: Service, api_events: int) -> None:
    """``anbao audit verify`` on the stopped service's store and integrity log: no findings,
    and every stored event of the ``api`` stream was checked against a signed head."""
    for args in (["sign-heads"], ["verify"]):
        out = subprocess.run(
            [sys.executable, "-m", "anbao", "audit", *args],
            env=service.env,
            cwd=service.home,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-2000:])
    assert out.stderr.startswith("OK"), out.stderr
    report = json.loads(out.stdout)
    api = next(s for s in report["streams"] if s["stream"] == "api")
    assert api["ok"]
    assert api["checked_events"] == api_events


@pytest.fixture
def fault_store(elasticsearch: Server) -> Iterator[ElasticsearchAuditStore]:
    store = es_store_for(elasticsearch)
    yield store
    store.delete_all()
    store.close()


@pytest.mark.parametrize("ship_in_subprocess", ["false", "true"])
def test_sigkill_mid_ingest_with_three_workers_loses_and_duplicates_nothing(
    elasticsearch: Server,
    fault_store: ElasticsearchAuditStore,
    tmp_path: Path,
    ship_in_subprocess: str,
) -> None:
    service = Service(
        fault_store,
        elasticsearch,
        tmp_path,
        workers=3,
        ANBAO_AUDIT_SHIP_IN_SUBPROCESS=ship_in_subprocess,
    )
    service.start()
    try:
        load = Load(service.url).start()
        load.wait_for(600)
        service.kill()  # mid-ingest: requests in flight, batches unshipped
        acked = load.stop()
        service.start()  # same spool: the new shipper sends what was left
        after = Load(service.url, threads=2).start()
        after.wait_for(100)
        acked += after.stop()
        assert_exactly_once(fault_store, acked)
    finally:
        service.stop()
    assert_verify_passes(service, len(stored_api_events(fault_store)))


# -- Elasticsearch outage on a second instance -------------------------------------------------


class FaultElasticsearch:
    def __init__(self) -> None:
        cache = Path(os.environ.get("ANBAO_CACHE", Path.home() / ".cache" / "anbao"))
        self.env = {
            **os.environ,
            "ANBAO_ELASTICSEARCH_PORT": str(FAULT_ES_PORT),
            "ANBAO_STATE": str(cache / "fault-es" / "run"),
            # used when running as root (Elasticsearch then runs as its own system user)
            "ANBAO_ELASTICSEARCH_BASE": "/var/lib/anbao-es-fault",
            "ANBAO_ELASTICSEARCH_HEAP": "512m",
        }

    def run(self, action: str) -> str:
        out = subprocess.run(
            [str(SCRIPTS / "elasticsearch.sh"), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    def server(self) -> Server:
        env = dict(line.split("=", 1) for line in self.run("env").splitlines() if "=" in line)
        return Server("elasticsearch-fault", env["ELASTICSEARCH_URL"], env)


@pytest.fixture(scope="module")
def fault_es() -> Iterator[FaultElasticsearch]:
    es = FaultElasticsearch()
    es.run("start")
    yield es
    es.run("stop")


def test_elasticsearch_outage_during_ingest_alarms_then_catches_up(
    fault_es: FaultElasticsearch, tmp_path: Path
) -> None:
    server = fault_es.server()
    store = es_store_for(server)
    service = Service(
        store,
        server,
        tmp_path,
        workers=2,
        ANBAO_AUDIT_SPOOL_CAPACITY_BYTES=str(4 << 20),
        ANBAO_AUDIT_SPOOL_ALARM_RATIO="0.05",
    )
    service.start()
    try:
        load = Load(service.url).start()
        load.wait_for(200)
        fault_es.run("stop")
        during = len(load.acked)
        load.wait_for(during + 800)  # the API keeps answering: events go to the spool
        metrics = httpx.get(service.url + "/metrics", timeout=5).text
        assert "anbao_audit_spool_alarm 1.0" in metrics
        fault_es.run("start")
        acked = load.stop()
        assert_exactly_once(store, acked, timeout=120)
        store.refresh()
        alarms = list(store.scan("system"))
        assert [d["event"]["action"] for d in alarms][:1] == ["audit.spool.alarm"]  # type: ignore[index]
        log = service.log.read_text()
        assert "audit spool" in log
        assert "full" in log
        service.stop()
        assert_verify_passes(service, len(stored_api_events(store)))
    finally:
        service.stop()
        store.delete_all()
        store.close()
