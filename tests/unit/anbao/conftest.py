from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import falcon.asgi
import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.web.accesslog import AccessLog
from audit.errors import AuditStoreUnavailable
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier


class FakeAuditStore:
    kind = "memory"

    def __init__(self) -> None:
        self.up = True

    def ping(self) -> None:
        if not self.up:
            raise AuditStoreUnavailable("The in-memory store is switched off.")

    def close(self) -> None:
        pass


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


@pytest.fixture
def audit_store() -> FakeAuditStore:
    return FakeAuditStore()


@pytest.fixture
def make_app(issuer: LocalIssuer, audit_store: FakeAuditStore) -> Callable[..., falcon.asgi.App]:
    def make(access_log: AccessLog | None = None, **env: str) -> falcon.asgi.App:
        settings = Settings.load({"ANBAO_KEYCLOAK_REQUIRED": "false", **env})
        verifier = TokenVerifier(
            issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
        )
        parts = Parts(verifier=verifier, audit_store=audit_store, access_log=access_log)
        return create_app(settings, parts)

    return make


@pytest.fixture
def client(make_app: Callable[..., falcon.asgi.App]) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(make_app())


def problem(result: Any) -> dict[str, Any]:
    assert result.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = result.json
    assert {"type", "title", "status"} <= body.keys()
    assert body["status"] == result.status_code
    return body
