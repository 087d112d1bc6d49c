"""The clustered engines of deploy/cluster (issue 20) for the failover tests, one section each.

Each cluster is started once per session by its script's ``up`` (a cluster already running is
reused and left running; one this session started is brought down at the end) in the state
directory ``ANBAO_CLUSTER_STATE`` (default ``~/.cache/anbao/cluster``, the scripts' own).
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from audit.stores.es_client import EsConnection, elasticsearch_client
from tests.paths import ROOT

# --- Elasticsearch cluster

ES_CLUSTER_SCRIPT = ROOT / "deploy" / "cluster" / "elasticsearch.sh"


def es_cluster_script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``deploy/cluster/elasticsearch.sh ARGS`` in the session's state directory."""
    return subprocess.run(
        [str(ES_CLUSTER_SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@dataclasses.dataclass(frozen=True)
class EsCluster:
    """The three-node cluster as Anbao reaches it (``env``), and its administrator."""

    env: dict[str, str]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (``elasticsearch.url``)."""
        return self.env["ELASTICSEARCH_URL"]

    def connection(self, **over: float) -> EsConnection:
        """Anbao's connection: the limited ``anbao`` user, TLS verified against the cluster CA."""
        return EsConnection(
            self.url,
            self.env["ELASTICSEARCH_USERNAME"],
            self.env["ELASTICSEARCH_PASSWORD"],
            ca_file=self.env["ELASTICSEARCH_CA_FILE"],
            **over,  # type: ignore[arg-type]
        )

    def admin(self) -> Elasticsearch:
        """A client as ``elastic`` (shard placement, node processes), for the tests only."""
        admin = dataclasses.replace(
            self.connection(timeout=10.0), username="elastic", password=self.env["ELASTIC_PASSWORD"]
        )
        return elasticsearch_client(admin)


@pytest.fixture(scope="session")
def es_cluster() -> Iterator[EsCluster]:
    """The cluster, up (three nodes joined, green or yellow) for the session."""
    was_up = es_cluster_script("status").returncode == 0
    up = es_cluster_script("up")
    if up.returncode != 0:
        pytest.fail(f"deploy/cluster/elasticsearch.sh up failed:\n{up.stdout}{up.stderr}", False)
    out = es_cluster_script("env")
    assert out.returncode == 0, out.stderr
    env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    yield EsCluster(env)
    if not was_up:
        es_cluster_script("down")
