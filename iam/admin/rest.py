"""Keycloak's admin REST API by path (org tree, importer, invitations, events), over python-keycloak.

The org tree pages groups and people and needs Keycloak's statuses as Anbao's errors, which
python-keycloak's per-resource methods do not give. :class:`KeycloakAdminClient` is a thin typed
layer over the python-keycloak connection :class:`iam.admin.KeycloakAdmins` builds, so the
transport is python-keycloak's: one requests session whose pool every thread of the importer
shares, and its admin token, fetched and refreshed (under the factory's lock) like every other
admin client's. What the layer adds is the reading of answers: statuses through
:func:`iam.admin.failures.failure` into :mod:`iam.orgs.errors` and
:class:`iam.errors.IdentityProviderUnavailable` (Keycloak's text never reaches a client), ids
quoted as one path segment (:func:`segment`), and a URL no server takes refused as the caller's
mistake before it is sent.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import quote, urlencode

import requests
from keycloak import KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakConnectionError, KeycloakError

from iam.admin.failures import Failure, failure
from iam.errors import (
    IamError,
    IdentityProviderUnavailable,
    InvalidOrgInput,
    OrgConflict,
    OrgNotFound,
)

#: Anbao never sends PATCH (nor anything else) to Keycloak's admin API.
Method = Literal["GET", "POST", "PUT", "DELETE"]
#: The longest URL sent. Longer ones (an id or a query of a whole pasted document) would be cut
#: off or dropped by the HTTP stack, which reads as an outage: they are the caller's mistake.
MAX_URL = 65_536
#: Keycloak's user-profile field names -> ours; its message text is never passed on.
_FIELDS = {
    "firstName": "given_name",
    "lastName": "family_name",
    "email": "email",
    "username": "username",
}


def segment(value: str) -> str:
    """``value`` as one path segment. A dot-segment would make the URL name another resource
    (RFC 3986 §5.2.4: ``/users/..`` is the realm itself), so it names nothing."""
    if value in {"", ".", ".."}:
        raise OrgNotFound("No such node or person.")
    return quote(value, safe="")


class KeycloakAdminClient:
    """Admin calls under the realm of ``connection`` (built by :class:`iam.admin.KeycloakAdmins`)."""

    def __init__(self, connection: KeycloakOpenIDConnection) -> None:
        self.connection = connection
        self.realm = str(connection.realm_name)
        self.base_url = str(connection.server_url).rstrip("/")
        self._prefix = f"admin/realms/{quote(self.realm, safe='')}"
        send: dict[Method, Callable[..., requests.Response]] = {
            "GET": connection.raw_get,
            "POST": connection.raw_post,
            "PUT": connection.raw_put,
            "DELETE": connection.raw_delete,
        }
        self._send = send

    @property
    def admin_base(self) -> str:
        return f"{self.base_url}/{self._prefix}"

    def close(self) -> None:
        """Close the pooled connections; the session opens new ones if used again (closing at
        app shutdown is not final). python-keycloak has no public close for its session."""
        self.connection._s.close()

    def token(self) -> str:
        """A current admin access token, fetched or refreshed as python-keycloak does before a
        call (for benchmarks comparing a bare HTTP client)."""
        try:
            self.connection._refresh_if_required()
        except KeycloakError as exc:
            raise _token_error(exc) from exc
        token = self.connection.token or {}
        return str(token["access_token"])

    def request(
        self,
        method: Method,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        absent_ok: bool = False,
    ) -> requests.Response:
        """One admin API call under the realm; 404 returns when ``absent_ok``, 409 raises."""
        url = self._prefix + path
        query = dict(params or {})
        if len(self.base_url) + len(url) + len(urlencode(query, doseq=True)) + 2 > MAX_URL:
            raise InvalidOrgInput("request", "an id or a value is too long or malformed")
        data = None if json is None else jsonlib.dumps(json)
        extra = {} if method == "GET" else {"data": data}
        try:
            response = self._send[method](url, **extra, **query)
        except KeycloakConnectionError as exc:
            raise IdentityProviderUnavailable("Keycloak is unreachable.") from exc
        except KeycloakError as exc:  # fetching or refreshing the admin token
            raise _token_error(exc) from exc
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST or (status == HTTPStatus.NOT_FOUND and absent_ok):
            return response
        raise _error(response, method, path)

    def json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.request("GET", path, params=params, absent_ok=True)
        return None if response.status_code == HTTPStatus.NOT_FOUND else response.json()

    def created_id(self, response: requests.Response) -> str:
        return response.headers["location"].rstrip("/").rsplit("/", 1)[1]


def _token_error(exc: KeycloakError) -> IamError:
    """Anbao's own admin token not issued: never the caller's mistake."""
    if isinstance(exc, KeycloakConnectionError):
        return IdentityProviderUnavailable("Keycloak is unreachable.")
    if (exc.response_code or 0) >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return IdentityProviderUnavailable("Keycloak could not issue an admin token.")
    return IdentityProviderUnavailable("Keycloak refused Anbao's admin credentials.")


def _error(response: requests.Response, method: str, path: str) -> IamError:
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
    if status == HTTPStatus.BAD_REQUEST:
        return _rejected(response)
    return InvalidOrgInput("request", f"the directory cannot take it (HTTP {status})")


def _rejected(response: requests.Response) -> InvalidOrgInput:
    """A 400 from Keycloak (usually its user profile): name the field, not Keycloak's words."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    errors = body.get("errors", [body]) if isinstance(body, dict) else []
    field = next((e.get("field") for e in errors if isinstance(e, dict) and e.get("field")), "")
    return InvalidOrgInput(_FIELDS.get(str(field), "body"), "rejected by the realm's rules")
