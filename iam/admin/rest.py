"""The pooled, thread-safe client of the Keycloak admin REST API (org tree, importer, events).

Built by :class:`iam.admin.KeycloakAdmins` from Anbao's admin credentials.

httpx with one connection pool shared by every thread of the importer's bounded pool. The admin
token (password grant on ``admin-cli`` of the admin realm, or a service account's client
credentials) is cached and refreshed shortly before it expires or after a 401. Keycloak's text
never reaches a client: statuses become :mod:`iam.orgs.errors` and
:class:`iam.errors.IdentityProviderUnavailable`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from iam.admin.failures import Failure, failure
from iam.errors import IamError, IdentityProviderUnavailable
from iam.orgs.errors import InvalidOrgInput, OrgConflict, OrgNotFound

_REFRESH_MARGIN = 15.0
#: Keycloak's user-profile field names -> ours; its message text is never passed on.
_FIELDS = {
    "firstName": "given_name",
    "lastName": "family_name",
    "email": "email",
    "username": "username",
}


class KeycloakAdminClient:
    def __init__(
        self,
        base_url: str,
        realm: str,
        *,
        username: str = "",
        password: str = "",
        client_id: str = "admin-cli",
        client_secret: str = "",
        admin_realm: str = "master",
        timeout: float = 30.0,
        pool_size: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.realm = realm
        self._form = (
            {"grant_type": "client_credentials", "client_id": client_id}
            | {"client_secret": client_secret}
            if client_secret
            else {
                "grant_type": "password",
                "client_id": client_id,
                "username": username,
                "password": password,
            }
        )
        self._token_url = f"{self.base_url}/realms/{admin_realm}/protocol/openid-connect/token"
        self._clock = clock
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._token = ""
        self._expires = 0.0
        self._timeout = timeout
        self._limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._client: httpx.Client | None = None

    @property
    def admin_base(self) -> str:
        return f"{self.base_url}/admin/realms/{quote(self.realm, safe='')}"

    @property
    def _http(self) -> httpx.Client:
        """The shared pool, (re)opened on demand: closing at app shutdown is not final."""
        client = self._client
        if client is None or client.is_closed:
            with self._pool_lock:
                if self._client is None or self._client.is_closed:
                    self._client = httpx.Client(timeout=self._timeout, limits=self._limits)
                client = self._client
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def token(self, *, force: bool = False) -> str:
        with self._lock:
            if force or not self._token or self._clock() >= self._expires - _REFRESH_MARGIN:
                try:
                    response = self._http.post(self._token_url, data=self._form)
                except httpx.HTTPError as exc:
                    raise IdentityProviderUnavailable("Keycloak is unreachable.") from exc
                if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
                    raise IdentityProviderUnavailable("Keycloak could not issue an admin token.")
                if response.status_code != httpx.codes.OK:
                    raise IdentityProviderUnavailable("Keycloak refused Anbao's admin credentials.")
                body = response.json()
                self._token = str(body["access_token"])
                self._expires = self._clock() + float(body.get("expires_in", 60))
            return self._token

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        absent_ok: bool = False,
    ) -> httpx.Response:
        """One admin API call under the realm; 404 returns when ``absent_ok``, 409 raises."""
        url = self.admin_base + path
        response = self._send(method, url, json, params, force=False)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            response = self._send(method, url, json, params, force=True)
        status = response.status_code
        if status < httpx.codes.BAD_REQUEST or (status == httpx.codes.NOT_FOUND and absent_ok):
            return response
        raise _error(response, method, path)

    def _send(
        self,
        method: str,
        url: str,
        json: Any,
        params: dict[str, Any] | None,
        *,
        force: bool,
    ) -> httpx.Response:
        headers = {"Authorization": "Bearer " + self.token(force=force)}
        try:
            return self._http.request(method, url, json=json, params=params, headers=headers)
        except httpx.InvalidURL as exc:  # an id or query too long or malformed to send
            raise InvalidOrgInput("request", "an id or a value is too long or malformed") from exc
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailable("Keycloak is unreachable.") from exc

    def json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.request("GET", path, params=params, absent_ok=True)
        return None if response.status_code == httpx.codes.NOT_FOUND else response.json()

    def created_id(self, response: httpx.Response) -> str:
        return response.headers["location"].rstrip("/").rsplit("/", 1)[1]


def _error(response: httpx.Response, method: str, path: str) -> IamError:
    """Keycloak's answer as a domain error, read by :func:`iam.admin.failures.failure`: only
    Keycloak's own failures (5xx) and its refusal of Anbao's credentials (401 after a fresh
    token, 403) mean the directory is unavailable; a 400 (usually the user profile) names the
    field, any other 4xx (414 an over-long id or query) is a request only the caller caused.
    """
    status = response.status_code
    match failure(status):
        case Failure.UNAVAILABLE:
            route = path.split("?", maxsplit=1)[0].split("/")[1]
            return IdentityProviderUnavailable(f"Keycloak answered {status} to {method} {route}.")
        case Failure.NOT_FOUND:
            return OrgNotFound("No such node or person.")
        case Failure.CONFLICT:
            return OrgConflict("The directory already holds this name, code or username.")
    if status == httpx.codes.BAD_REQUEST:
        return _rejected(response)
    return InvalidOrgInput("request", f"the directory cannot take it (HTTP {status})")


def _rejected(response: httpx.Response) -> InvalidOrgInput:
    """A 400 from Keycloak (usually its user profile): name the field, not Keycloak's words."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    errors = body.get("errors", [body]) if isinstance(body, dict) else []
    field = next((e.get("field") for e in errors if isinstance(e, dict) and e.get("field")), "")
    return InvalidOrgInput(_FIELDS.get(str(field), "body"), "rejected by the realm's rules")
