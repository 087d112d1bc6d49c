"""The Elasticsearch audit store (production): reached with the official client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from elasticsearch import ApiError, AuthenticationException, Elasticsearch, TransportError

from audit.errors import AuditStoreUnavailable
from audit.model import AuditEvent
from audit.ports import Document, RawDocument, SearchPage, SearchRequest, WriteResult


class ElasticsearchAuditStore:
    kind = "elasticsearch"

    def __init__(
        self, url: str, *, username: str, password: str, ca_file: str = "", timeout: float = 5.0
    ) -> None:
        tls: dict[str, Any] = {"ca_certs": ca_file} if ca_file else {}
        self.client = Elasticsearch(
            url,
            basic_auth=(username, password),
            **tls,
            request_timeout=timeout,
            retry_on_timeout=True,
            max_retries=2,
        )

    def ping(self) -> None:
        try:
            health = self.client.cluster.health(timeout="2s")
        except AuthenticationException as exc:
            raise AuditStoreUnavailable(
                "Elasticsearch refused the configured credentials."
            ) from exc
        except (ApiError, TransportError) as exc:
            raise AuditStoreUnavailable("Elasticsearch does not answer.") from exc
        if health.get("status") == "red":
            raise AuditStoreUnavailable("Elasticsearch cluster status is red.")

    def close(self) -> None:
        self.client.close()

    # Being implemented (issue 5 parts 3-4); signatures are the audit.ports.AuditStore contract.
    def write_batch(self, events: Sequence[AuditEvent]) -> WriteResult:
        raise NotImplementedError

    def write_documents(self, documents: Sequence[RawDocument]) -> WriteResult:
        raise NotImplementedError

    def get(self, event_id: str) -> Document | None:
        raise NotImplementedError

    def scan(
        self, stream: str, start: int = 0, stop: int | None = None, *, batch_size: int = 1000
    ) -> Iterator[Document]:
        raise NotImplementedError

    def streams(self) -> Mapping[str, int]:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    def search(self, request: SearchRequest) -> SearchPage:
        raise NotImplementedError
