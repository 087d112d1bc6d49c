"""The three-node Elasticsearch cluster of deploy/cluster/elasticsearch.sh as the failover tests
reach it: the script, Anbao's connection (every node, the limited user, the cluster CA) and an
administrator's client (shard placement, node processes)."""

from __future__ import annotations

import dataclasses
import subprocess

from elasticsearch import Elasticsearch

from audit.stores.es_client import EsConnection, elasticsearch_client
from tests.paths import ROOT

SCRIPT = ROOT / "deploy" / "cluster" / "elasticsearch.sh"


def script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``deploy/cluster/elasticsearch.sh ARGS`` in the session's state directory."""
    return subprocess.run(
        [str(SCRIPT), *args],
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
