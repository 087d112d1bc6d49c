"""The admin REST layer over python-keycloak's connection, shared by the importer's threads: the
admin token is fetched (and refreshed) once for threads that all find it missing (or expired),
and Anbao's own credentials refused read as an outage, never as the caller's mistake."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from iam.admin import AdminCredentials, KeycloakAdminClient, KeycloakAdmins
from iam.errors import IdentityProviderUnavailable
from tests.integration.conftest import Server

THREADS = 12


def _admin(keycloak: Server, password: str = "") -> KeycloakAdminClient:
    env = keycloak.env
    creds = AdminCredentials.bootstrap(
        keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], password or env["KEYCLOAK_ADMIN_PASSWORD"]
    )
    return KeycloakAdmins(creds, "master").rest(pool_size=THREADS)


def _counted(calls: list[str], name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    return spy


def _at_once(admin: KeycloakAdminClient) -> list[Any]:
    barrier = threading.Barrier(THREADS)

    def call(_: int) -> Any:
        barrier.wait(30)
        return admin.json("/users", {"max": 1})

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(call, range(THREADS)))


def _spied(admin: KeycloakAdminClient) -> list[str]:
    """The real token endpoint calls of ``admin``'s connection, counted (nothing replaced)."""
    calls: list[str] = []
    openid = admin.connection.keycloak_openid
    openid.token = _counted(calls, "token", openid.token)  # type: ignore[method-assign]
    openid.refresh_token = _counted(calls, "refresh", openid.refresh_token)  # type: ignore[method-assign]
    return calls


def test_threads_calling_at_once_fetch_one_token(keycloak: Server) -> None:
    admin = _admin(keycloak)
    calls = _spied(admin)
    try:
        results = _at_once(admin)
    finally:
        admin.close()
    assert all(isinstance(users, list) and users for users in results)
    assert calls == ["token"]


def test_threads_finding_the_token_expired_refresh_it_once(keycloak: Server) -> None:
    admin = _admin(keycloak)
    try:
        admin.json("/users", {"max": 1})
        token = admin.connection.token
        assert token is not None
        admin.connection.token = {**token, "expires_in": 0}  # expired now, as after idling
        calls = _spied(admin)
        results = _at_once(admin)
    finally:
        admin.close()
    assert all(isinstance(users, list) and users for users in results)
    assert calls == ["refresh"]


def test_a_closed_client_opens_its_pool_again(keycloak: Server) -> None:
    admin = _admin(keycloak)
    admin.json("/users", {"max": 1})
    admin.close()  # an app's shutdown; a test client's lifespan may close it before the next use
    assert admin.json("/users", {"max": 1})
    admin.close()


def test_refused_admin_credentials_are_an_outage(keycloak: Server) -> None:
    admin = _admin(keycloak, password="not-the-password")
    with pytest.raises(IdentityProviderUnavailable, match="refused Anbao's admin credentials"):
        admin.json("/users", {"max": 1})
    admin.close()
