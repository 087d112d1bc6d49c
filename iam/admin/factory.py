"""The one factory of Keycloak admin clients: whose credentials, which realm, how failures read.

Every admin call Anbao makes (the org tree, invitations, events, app onboarding, SIEM identity
responses, the compliance realm checks, realm as code) gets its client here, so the credentials,
the token's realm, thread-safety and what a Keycloak status means are decided once.

In production Anbao signs in as its own confidential client with a service account
(``anbao-admin`` in deploy/keycloak/anbao-realm.yaml, client credentials grant, RFC 6749 §4.4)
in the realm it administers, holding only the realm-management roles it calls
(:data:`SERVICE_ACCOUNT_ROLES`). The master realm's admin password is for the development
bootstrap and ``anbao iam apply`` only (:meth:`AdminCredentials.bootstrap`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Self

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

from iam.admin.rest import KeycloakAdminClient
from iam.errors import IdentityProviderUnavailable

#: The realm-management roles Anbao's admin calls need, and no more: groups and people (org
#: tree, invitations, SIEM responses), clients (app onboarding), events (audit pull), the
#: realm's settings, roles and flows (compliance checks, SMTP) and identity providers (broker
#: links). Not realm-admin, manage-realm, manage-events, impersonation or anything in master.
SERVICE_ACCOUNT_ROLES = (
    "view-realm",
    "view-users",
    "query-users",
    "manage-users",
    "query-groups",
    "view-clients",
    "query-clients",
    "manage-clients",
    "view-events",
    "view-identity-providers",
)


@dataclasses.dataclass(frozen=True, slots=True)
class AdminCredentials:
    """Who Anbao is to Keycloak's admin API. A service account when ``client_secret`` is set."""

    url: str
    client_id: str = ""
    client_secret: str = dataclasses.field(default="", repr=False)
    #: The master realm's admin: development bootstrap and ``anbao iam apply`` only.
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    timeout: float = 10.0

    @classmethod
    def bootstrap(cls, url: str, username: str, password: str, timeout: float = 10.0) -> Self:
        return cls(url, username=username, password=password, timeout=timeout)

    @property
    def service_account(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @property
    def configured(self) -> bool:
        return self.service_account or bool(self.password)


class _Connection(KeycloakOpenIDConnection):
    """python-keycloak's connection with its token fetch, refresh and expiry check under one lock.

    Its own are unlocked: threads finding the token expired together would each fetch one, and a
    refresh racing a fetch can leave a token without its refresh token. Under the lock the first
    thread fetches and the others find the token fresh.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._token_lock = threading.RLock()
        super().__init__(*args, **kwargs)

    def get_token(self) -> None:
        with self._token_lock:
            super().get_token()

    def refresh_token(self) -> None:
        with self._token_lock:
            super().refresh_token()

    def _refresh_if_required(self) -> None:
        with self._token_lock:
            super()._refresh_if_required()


class KeycloakAdmins:
    """Admin clients for one realm from one set of credentials.

    A service account signs in to the realm it administers; the bootstrap admin to ``master``.
    Each client gets its own connection (python-keycloak's clients may switch their realm), all
    built by :meth:`connection`.
    """

    def __init__(self, credentials: AdminCredentials, realm: str) -> None:
        self.credentials = credentials
        self.realm = realm

    def _require(self) -> AdminCredentials:
        creds = self.credentials
        if not creds.configured:
            raise IdentityProviderUnavailable(
                "No Keycloak admin credentials (keycloak.admin_client_secret)."
            )
        return creds

    def connection(
        self, *, pool_size: int | None = None, timeout: float | None = None
    ) -> KeycloakOpenIDConnection:
        """python-keycloak's connection to the realm (token fetched on first call, refreshed
        under a lock): ``pool_size`` connections kept for threads calling at once."""
        creds = self.credentials
        service = creds.service_account
        return _Connection(
            server_url=creds.url,
            grant_type="client_credentials" if service else "password",
            username=None if service else creds.username,
            password=None if service else creds.password,
            client_id=creds.client_id if service else "admin-cli",
            client_secret_key=creds.client_secret if service else None,
            realm_name=self.realm,
            user_realm_name=self.realm if service else "master",
            timeout=int(max(timeout or creds.timeout, 1)),
            pool_maxsize=pool_size,
        )

    def rest(self, *, pool_size: int = 16, timeout: float | None = None) -> KeycloakAdminClient:
        """The admin REST API by path (org tree, invitations, events), thread-safe, on its own
        connection pooling ``pool_size`` connections."""
        return KeycloakAdminClient(self.connection(pool_size=pool_size, timeout=timeout))

    def python_keycloak(self) -> KeycloakAdmin:
        """A python-keycloak client of the realm. Never point it at another realm: build
        another factory."""
        self._require()
        return KeycloakAdmin(connection=self.connection())

    def lazy(self) -> Callable[[], KeycloakAdmin]:
        """:meth:`python_keycloak` as a factory for adapters that build it on first use."""
        return self.python_keycloak
