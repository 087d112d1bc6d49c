"""One Elasticsearch client builder: TLS, credentials, timeout and retries from one connection."""

from __future__ import annotations

import base64
import dataclasses

import certifi
import elastic_transport
import pytest
from elastic_transport._node import NodeApiResponse

from anbao.settings import Secret, Settings
from anbao.wiring.elasticsearch import es_connection
from audit.stores.es_client import EsConnection, elasticsearch_client


def test_settings_become_one_connection_whose_password_never_shows() -> None:
    base = Settings()
    es = dataclasses.replace(
        base.elasticsearch, password=Secret("pa55"), ca_file="/ca.pem", max_retries=5
    )
    connection = es_connection(dataclasses.replace(base, elasticsearch=es))
    assert connection == EsConnection(
        es.url, es.username, "pa55", ca_file="/ca.pem", timeout=es.timeout_seconds, max_retries=5
    )
    assert "pa55" not in repr(connection)


def test_the_client_carries_tls_auth_timeout_and_retries() -> None:
    connection = EsConnection(
        "https://127.0.0.1:9200",
        "anbao",
        "pa55",
        ca_file=certifi.where(),
        timeout=7.0,
        max_retries=4,
    )
    client = elasticsearch_client(connection, retry_on_timeout=True)
    node = client.transport.node_pool.all()[0].config
    assert (node.ca_certs, node.verify_certs) == (certifi.where(), True)
    assert client._headers["authorization"] == "Basic " + base64.b64encode(b"anbao:pa55").decode()
    assert (client._request_timeout, client._max_retries, client._retry_on_timeout) == (
        7.0,
        4,
        True,
    )
    assert elasticsearch_client(connection)._retry_on_timeout is False  # only idempotent writers


def test_raw_clients_keep_response_bytes_and_may_wait_longer() -> None:
    connection = EsConnection("http://127.0.0.1:9200", "anbao", "pa55")
    raw = elasticsearch_client(connection, timeout=60.0, raw=True)
    assert raw.transport.serializers.get_serializer("application/json").loads(b"{}") == b"{}"
    assert raw._request_timeout == 60.0


def test_one_client_over_every_node_of_a_comma_separated_url() -> None:
    connection = EsConnection(
        "https://127.0.0.1:9221, https://127.0.0.1:9222,https://127.0.0.1:9223", "anbao", "pa55"
    )
    assert connection.urls == [f"https://127.0.0.1:{port}" for port in (9221, 9222, 9223)]
    client = elasticsearch_client(connection)
    ports = sorted(node.config.port for node in client.transport.node_pool.all())
    assert ports == [9221, 9222, 9223]


class _Node:
    """Stands in for one node's HTTP connection: refuses, or answers a count."""

    def __init__(self, config: elastic_transport.NodeConfig, tried: list[int], up: bool) -> None:
        self.config, self.tried, self.up = config, tried, up

    def perform_request(
        self, method: str, target: str, *args: object, **kw: object
    ) -> NodeApiResponse:
        del method, target, args, kw
        self.tried.append(self.config.port)
        if not self.up:
            raise elastic_transport.ConnectionError("connection refused")
        headers = elastic_transport.HttpHeaders(
            {"content-type": "application/json", "x-elastic-product": "Elasticsearch"}
        )
        meta = elastic_transport.ApiResponseMeta(200, "1.1", headers, 0.0, self.config)
        return NodeApiResponse(meta, b'{"count": 7}')


def test_a_request_meeting_a_dead_node_is_retried_on_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two of three nodes refuse connections: the request is answered by the third (within the
    default two retries, whatever the pool's order), and the refusing ones are marked dead."""
    connection = EsConnection(
        "http://127.0.0.1:9221,http://127.0.0.1:9222,http://127.0.0.1:9223", "anbao", "pa55"
    )
    client = elasticsearch_client(connection)
    tried: list[int] = []
    for node in client.transport.node_pool.all():
        stand_in = _Node(node.config, tried, up=node.config.port == 9223)
        monkeypatch.setattr(node, "perform_request", stand_in.perform_request)
    assert client.count(index="anbao-audit-*")["count"] == 7
    assert tried[-1] == 9223
    assert len(tried) <= 3
    pool = client.transport.node_pool
    dead = {n.config.port for n in pool.all()} - {n.config.port for n in pool._alive_nodes.values()}
    assert dead == set(tried[:-1])
