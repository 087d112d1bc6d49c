"""The clusters of deploy/cluster/ for the failover tests, one section per engine.

Each section's session fixture starts its cluster with the script's ``up`` (reusing one that
runs), yields what a client needs, and at the end stops only a cluster this session started,
as tests/integration/conftest.py does for the local servers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cluster import es_cluster as es
from tests.integration.cluster import keycloak_cluster as kc
from tests.integration.conftest import Server

# --- Keycloak cluster


@pytest.fixture(scope="session")
def keycloak_cluster(postgres: Server) -> Iterator[kc.KeycloakCluster]:
    """Two Keycloak nodes behind HAProxy (deploy/cluster/keycloak.sh) on the local PostgreSQL.

    ``up`` starts what is missing (a node killed by an earlier test included) and waits for
    health. The cluster is brought down at the end only if none of it ran before the session.
    """
    before = kc.script("status", timeout=60).stdout
    started = all(f"{piece} down" in before for piece in ("kc1", "kc2", "haproxy"))
    up = kc.script("up")
    if up.returncode != 0:
        pytest.fail(f"deploy/cluster/keycloak.sh up failed:\n{up.stderr[-4000:]}", pytrace=False)
    yield kc.KeycloakCluster.from_env()
    if started:
        kc.script("down", timeout=120)


# --- Elasticsearch cluster


@pytest.fixture(scope="session")
def es_cluster() -> Iterator[es.EsCluster]:
    """Three Elasticsearch nodes (deploy/cluster/elasticsearch.sh), joined, green or yellow.

    ``up`` starts what is missing (a node killed by an earlier test included). The cluster is
    brought down at the end only if it was not up before the session.
    """
    was_up = es.script("status").returncode == 0
    up = es.script("up")
    if up.returncode != 0:
        pytest.fail(f"deploy/cluster/elasticsearch.sh up failed:\n{up.stderr[-4000:]}", False)
    out = es.script("env")
    assert out.returncode == 0, out.stderr
    yield es.EsCluster(dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line))
    if not was_up:
        es.script("down")
