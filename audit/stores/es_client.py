"""The one way Anbao builds an Elasticsearch client: TLS, credentials, timeout, retries.

The audit store, the integrity check's raw reader and the SIEM alert store all connect through
:func:`elasticsearch_client`, from one :class:`EsConnection` the composition root makes of the
``[elasticsearch]`` settings, so a CA bundle or a retry policy is set in one place.

A cluster is reached through several of its nodes (``url`` is a comma-separated list): one
client holds them all, sends each request to the next live node, and after a connection error
marks that node dead for a while and retries the request on another, so losing a node costs a
retry, not an outage (deploy/cluster/elasticsearch.sh, tests/integration/cluster).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from elastic_transport import JsonSerializer
from elasticsearch import Elasticsearch


@dataclasses.dataclass(frozen=True, slots=True)
class EsConnection:
    """Where Elasticsearch is and how to reach it; ``ca_file`` verifies its TLS certificate.

    ``url`` is one node's URL or several nodes' of one cluster, comma-separated."""

    url: str
    username: str
    password: str = dataclasses.field(repr=False)
    ca_file: str = ""
    timeout: float = 5.0
    #: Retries of a request on another connection after a connection error or a 502/503/504.
    max_retries: int = 2

    @property
    def urls(self) -> list[str]:
        """Each node's URL, in the order given."""
        return node_urls(self.url)


def node_urls(url: str) -> list[str]:
    """The node URLs of a comma-separated ``url`` (blanks around commas ignored)."""
    return [part.strip() for part in url.split(",") if part.strip()]


class _KeepBytes(JsonSerializer):
    """Requests are JSON as usual; responses stay bytes."""

    def loads(self, data: bytes) -> Any:
        return data


def elasticsearch_client(
    connection: EsConnection,
    *,
    timeout: float | None = None,
    retry_on_timeout: bool = False,
    raw: bool = False,
) -> Elasticsearch:
    """A client of ``connection``. ``retry_on_timeout`` only for idempotent writers (a timed-out
    request may have been applied); ``raw`` leaves JSON responses as bytes (integrity scans)."""
    options: dict[str, Any] = {"ca_certs": connection.ca_file} if connection.ca_file else {}
    if raw:
        keep = _KeepBytes()
        options["serializers"] = {
            "application/json": keep,
            "application/vnd.elasticsearch+json": keep,
        }
    return Elasticsearch(
        connection.urls,
        basic_auth=(connection.username, connection.password),
        request_timeout=timeout or connection.timeout,
        max_retries=connection.max_retries,
        retry_on_timeout=retry_on_timeout,
        **options,
    )
