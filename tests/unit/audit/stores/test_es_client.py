"""One Elasticsearch client builder: TLS, credentials, timeout and retries from one connection."""

from __future__ import annotations

import base64
import dataclasses

import certifi

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
