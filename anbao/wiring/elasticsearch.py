"""The ``[elasticsearch]`` settings as the one connection every Elasticsearch client is built from."""

from __future__ import annotations

from anbao.settings import Settings
from audit.stores.es_client import EsConnection


def es_connection(settings: Settings) -> EsConnection:
    es = settings.elasticsearch
    return EsConnection(
        es.url,
        es.username,
        es.password.reveal(),
        ca_file=es.ca_file,
        timeout=es.timeout_seconds,
        max_retries=es.max_retries,
    )
