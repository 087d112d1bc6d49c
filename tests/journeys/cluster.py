"""The Anbao cluster of ``deploy/cluster`` as the failover journey and ``bench/cluster_ingest.py``
drive it from outside: brought up by its scripts, reached through its load balancer and its CLI.

Nothing here reaches into a node: events enter the trail as audited API requests through the
load balancer (each with a request id the client chooses, which the trail keeps as
``trace.id``), are found again through the search API as a province-wide auditor (made by
``anbao dev seed``: the nodes run in development mode), and a node is killed or paused through
its process group (``deploy/cluster/anbao.sh`` starts each node with ``setsid``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.integration.iam.realm_support import BrowserlessLogin
from tests.paths import ROOT

CLUSTER = ROOT / "deploy" / "cluster"
ANBAO = ROOT / ".venv" / "bin" / "anbao"
REALM = "anbao"
#: The realm's native client (``anbao login``): a loopback redirect on any port (RFC 8252).
CLIENT = "anbao-cli"
AUDITOR = "demo-auditor"


def script(name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLUSTER / f"{name}.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def _pairs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Addresses and files of a running Anbao cluster (``anbao.sh env``, ``keycloak.sh env``)."""

    env: dict[str, str]
    keycloak: dict[str, str]

    @property
    def url(self) -> str:
        return self.env["ANBAO_URL"]

    @property
    def ca(self) -> str:
        return self.env["ANBAO_CA"]

    def node_url(self, node: int) -> str:
        return self.env[f"ANBAO_NODE_URL_{node}"]

    def cli_env(self, node: int) -> dict[str, str]:
        """The environment of the ``anbao`` CLI acting as ``node`` (its settings, the CA)."""
        bundle = self.env["SSL_CERT_FILE"]
        return {
            **os.environ,
            "ANBAO_CONFIG": self.env[f"ANBAO_CONFIG_{node}"],
            "SSL_CERT_FILE": bundle,
            "REQUESTS_CA_BUNDLE": bundle,
        }

    def cli(
        self, node: int, *args: str, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ANBAO), *args],
            env={**self.cli_env(node), **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def group(self, node: int) -> int:
        """The node's process group (master, workers, shippers): its master's PID."""
        return int(Path(self.env[f"ANBAO_PIDFILE_{node}"]).read_text().strip())

    def processes(self, node: int) -> list[int]:
        pgid = self.group(node)
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                        found.append(int(entry.name))
        return found

    def shippers(self, node: int) -> list[int]:
        """The node's shipper processes (``audit.ship_in_subprocess``)."""
        out = []
        for pid in self.processes(node):
            with contextlib.suppress(OSError):
                if b"ship_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    out.append(pid)
        return out

    def kill(self, node: int) -> None:
        """``kill -9`` of the node's whole process tree at once."""
        os.killpg(self.group(node), signal.SIGKILL)

    def spool_pending(self, node: int) -> float:
        """Events in the node's spool, from its own ``/metrics`` (read at scrape time)."""
        text = httpx.get(self.node_url(node) + "/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith("anbao_audit_spool_pending_events "):
                return float(line.split()[1])
        raise AssertionError("no anbao_audit_spool_pending_events in /metrics")

    def tls(self) -> ssl.SSLContext:
        """Trusts the cluster's local CA (the balancers' certificates)."""
        return ssl.create_default_context(cafile=self.ca)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls(), timeout=30)


def load() -> Cluster:
    an = script("anbao", "env")
    assert an.returncode == 0, an.stderr
    env = _pairs(an.stdout)
    kc_state = os.environ.get("ANBAO_CLUSTER_KEYCLOAK_STATE") or os.environ.get(
        "ANBAO_CLUSTER_STATE", ""
    )
    kc = subprocess.run(
        [str(CLUSTER / "keycloak.sh"), "env"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **({"ANBAO_CLUSTER_STATE": kc_state} if kc_state else {})},
    )
    return Cluster(env, _pairs(kc.stdout))


@contextlib.contextmanager
def running() -> Iterator[Cluster]:
    """The cluster, up: reused when its Anbao nodes and balancer answer (``anbao.sh status``;
    what they depend on is then up, and someone else may be testing it), else brought up by
    ``cluster.sh up`` and brought down after (``down`` stops only what ``up`` started)."""
    started = script("anbao", "status").returncode != 0
    if started:
        up = script("cluster", "up")
        assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield load()
    finally:
        if started:
            script("cluster", "down")


class Auditor:
    """A province-wide auditor's access token, refreshed before it expires (RFC 6749 §6)."""

    def __init__(self, cluster: Cluster, password: str) -> None:
        self._cluster = cluster
        login = BrowserlessLogin(cluster.keycloak["KEYCLOAK_URL"], REALM, CLIENT)
        login.http = httpx.Client(follow_redirects=False, timeout=15, verify=cluster.tls())
        try:
            page = login.start()
            done = login.submit(page, "kc-form-login", username=AUDITOR, password=password)
            assert login.code, f"sign-in as {AUDITOR} stopped at {done.title()}"
            tokens = login.tokens()
        finally:
            login.close()
        self._token_url = login.base + "/token"
        self._tokens, self._at = tokens, time.monotonic()

    def token(self) -> str:
        if time.monotonic() - self._at > self._tokens["expires_in"] / 2:
            response = httpx.post(
                self._token_url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": self._tokens["refresh_token"],
                    "client_id": CLIENT,
                },
                verify=self._cluster.tls(),
                timeout=15,
            )
            assert response.status_code == 200, response.text
            self._tokens, self._at = response.json(), time.monotonic()
        return str(self._tokens["access_token"])


def auditor(cluster: Cluster) -> Auditor:
    """The demo auditor (``anbao dev seed``: idempotent), signed in through the Keycloak LB.

    The seed refuses production settings: it runs as a development-mode copy of node 1 (the same
    Keycloak realm and directory); the nodes themselves stay in production mode.
    """
    development = {"ANBAO_ENVIRONMENT": "development"}
    seeded = cluster.cli(1, "dev", "seed", env=development)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    people = cluster.cli(1, "dev", "people", env=development)
    assert people.returncode == 0, people.stderr
    line = next(ln for ln in people.stdout.splitlines() if "password of each:" in ln)
    password = line.split("password of each:")[1].split()[0]
    return Auditor(cluster, password)


def trace_counts(client: httpx.Client, token: str, prefix: str) -> dict[str, int]:
    """How many events the search API finds for each ``trace.id`` starting with ``prefix``."""
    counts: dict[str, int] = {}
    seen: set[str] = set()
    params: dict[str, Any] = {"q": f"trace.id:{prefix}*", "size": 1000, "from": "now-1d"}
    while True:
        response = client.get(
            "/audit/events", params=params, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        for doc in page["events"]:
            event_id = doc["event"]["id"]
            assert event_id not in seen, f"event {event_id} returned twice"
            seen.add(event_id)
            trace = doc["trace"]["id"]
            counts[trace] = counts.get(trace, 0) + 1
        if not page["events"] or not page["search_after"]:
            return counts
        params["search_after"] = page["search_after"]
