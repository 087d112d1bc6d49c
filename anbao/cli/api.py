"""The CLI as a client of Anbao's API: every command that acts on the platform calls it.

A command that acts (registers an app, invites a person, approves, signs off) is a person using
the platform, so it goes through the same HTTP API, with the same checks, as every other client:
the server verifies the token, its roles, the live org scope and the session, and records the
act under that person. The CLI holds no admin credential for these commands and decides nothing
itself. Operator commands (``anbao iam apply``, ``anbao iam bootstrap``, …) are the exception:
they need Keycloak's admin credentials and say so in their help.

The token is ``--token`` / ``ANBAO_TOKEN`` when given, else the one ``anbao login`` stored
(:mod:`anbao.cli.session`, refreshed when near expiry). The API's address is ``--api`` /
``ANBAO_API_URL``, else the local server the settings describe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import click
import httpx

from anbao.settings import Secret, Settings, SettingsError

F = TypeVar("F", bound=Callable[..., Any])

#: exit status of a refused call (4xx) and of an unreachable or failing server
EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 3


def api_options(fn: F) -> F:
    """``--api`` and ``--token``, the options of every command that calls the API."""
    fn = click.option(
        "--token",
        envvar="ANBAO_TOKEN",
        default=None,
        help="An access token to act with (default: the session of `anbao login`).",
    )(fn)
    return click.option(
        "--api",
        "api_url",
        envvar="ANBAO_API_URL",
        default=None,
        help="Anbao's API (default: the local server of the settings).",
    )(fn)


def default_api_url(settings: Settings) -> str:
    """The local server the settings describe (a wildcard host is reached on loopback)."""
    server = settings.server
    scheme = "https" if server.tls_cert_file else "http"
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(server.host, server.host)  # noqa: S104
    return f"{scheme}://{host}:{server.port}"


class ApiClient:
    """One person's calls to the API; problems become one clear line and a non-zero exit."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """The decoded JSON answer (``None`` for 204); raises :class:`click.ClickException`."""
        response = self.raw(
            method, path, body=body, params=params, content=content, content_type=content_type
        )
        if response.status_code == 204 or not response.content:  # noqa: PLR2004
            return None
        if "json" in response.headers.get("content-type", ""):
            return response.json()
        return response.content

    def raw(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """The response of a successful call; a refusal or failure exits with its problem."""
        headers = {"Content-Type": content_type} if content_type else None
        try:
            response = self._http.request(
                method,
                path,
                json=body if content is None else None,
                content=content,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"Anbao's API at {self._http.base_url}: {exc}") from None
        if response.is_success:
            return response
        if response.is_server_error:
            raise ApiUnavailable(_problem_line(response))
        raise ApiRefused(_problem_line(response))

    @contextlib.contextmanager
    def stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[httpx.Response]:
        """A successful response to read in chunks (exports); problems exit as in :meth:`raw`."""
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            with self._http.stream(method, path, params=query) as response:
                if not response.is_success:
                    response.read()
                    raise (ApiUnavailable if response.is_server_error else ApiRefused)(
                        _problem_line(response)
                    )
                yield response
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"Anbao's API at {self._http.base_url}: {exc}") from None


class ApiRefused(click.ClickException):
    """The API refused the call (4xx): the caller's mistake, exit 1."""

    exit_code = EXIT_REFUSED


class ApiUnavailable(click.ClickException):
    """The API failed (5xx) or could not be reached: exit 3."""

    exit_code = EXIT_UNAVAILABLE


def _problem_line(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"HTTP {response.status_code}"
    if not isinstance(problem, dict):
        return f"HTTP {response.status_code}"
    code = str(problem.get("type", "")).removeprefix("urn:anbao:problem:")
    detail = problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}"
    if isinstance(problem.get("position"), int):  # a query's syntax error points at it
        detail = f"{detail} (at position {problem['position']})"
    return f"{detail} [{code}]" if code else str(detail)


def cli_settings() -> Settings:
    """The settings every command reads (file, then environment); a bad one is one line."""
    try:
        return Settings.load(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def operator_settings(realm: str = "") -> Settings:
    """The settings of an operator command: ``realm`` (when given) replaces keycloak.realm, and
    a missing Keycloak admin password is taken from ``KEYCLOAK_ADMIN_PASSWORD``, the variable
    ``deploy/local/keycloak.sh env`` prints."""
    settings = cli_settings()
    kc = settings.keycloak
    password = kc.admin_password.reveal() or os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "")
    keycloak = dataclasses.replace(kc, realm=realm or kc.realm, admin_password=Secret(password))
    return dataclasses.replace(settings, keycloak=keycloak)


def client(api_url: str | None, token: str | None, settings: Settings | None = None) -> ApiClient:
    """The API client of a command: its options, else the settings and the stored session."""
    from anbao.cli import session  # noqa: PLC0415 - reads the config directory only when acting

    settings = settings or cli_settings()
    token = token or session.access_token(settings)
    if not token:
        raise click.UsageError("sign in first: `anbao login` (or pass --token / ANBAO_TOKEN)")
    return ApiClient(api_url or default_api_url(settings), token)


def print_json(value: Any) -> None:
    """Answers are printed as indented JSON (pipe them to ``jq``)."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def segment(value: str) -> str:
    """A typed id as one path segment: a '/' or '..' in it must not reach another route."""
    return quote(value, safe="")
