"""``anbao iam apps``: register apps as OIDC clients, rotate secrets, disable, list, show.

The CLI is the operator's path: it signs in to the Keycloak admin API with the configured admin
credentials (``keycloak.admin_username`` / ``keycloak.admin_password``, falling back to
``KEYCLOAK_ADMIN_PASSWORD``) and acts as a platform admin; ``--owner`` records the developer the
app belongs to. The same rules as ``POST /iam/apps`` apply (one service, one validator).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from anbao.settings import Settings, SettingsError
from iam.apps import parse_registration, parse_update
from iam.apps_keycloak import KeycloakAppDirectory, admin_factory
from iam.apps_service import AppService
from iam.errors import IamError, InvalidRequest
from iam.keycloak import issuer_url
from iam.model import Principal

T = TypeVar("T")


def _service(realm: str) -> AppService:
    try:
        settings = Settings.load(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    kc = settings.keycloak
    realm = realm or kc.realm
    password = kc.admin_password.reveal() or os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "")
    factory = admin_factory(
        kc.url,
        realm,
        username=kc.admin_username,
        password=password,
        timeout=max(kc.timeout_seconds, 10.0),
    )
    directory = KeycloakAppDirectory(factory, realm)
    return AppService(directory, issuer=issuer_url(kc.url, realm), clock=time.time)


def _operator(owner: str) -> Principal:
    return Principal(
        subject=owner or "anbao-cli",
        username=owner or "anbao-cli",
        client_id="anbao-cli",
        roles=frozenset({"platform-admin"}),
        scopes=frozenset(),
        acr="",
        org_path="",
        expires_at=2**62,
        claims={},
    )


def _run(action: Callable[[], T]) -> T:
    """Domain errors become one line per problem on stderr, never a traceback."""
    try:
        return action()
    except InvalidRequest as exc:
        for error in exc.errors:
            click.echo(f"anbao: {error['field']}: {error['reason']}", err=True)
        sys.exit(2)
    except IamError as exc:
        click.echo(f"anbao: {exc.code}: {exc.detail}", err=True)
        sys.exit(1)


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


_realm = click.option("--realm", default="", help="Realm (default: keycloak.realm).")


@click.group("apps")
def apps() -> None:
    """Apps registered as OIDC clients of the realm."""


@apps.command("register")
@click.argument("client_id")
@click.option("--type", "kind", type=click.Choice(["confidential", "public"]), required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI.")
@click.option("--scope", "scopes", multiple=True, help="Realm client scope to include.")
@click.option("--role", "roles", multiple=True, help="Client role to define.")
@click.option(
    "--auth-method", type=click.Choice(["client_secret", "private_key_jwt", "none"]), default=None
)
@click.option("--jwks-url", default="", help="private_key_jwt: where the app publishes keys.")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--service-account", is_flag=True, help="Allow the client credentials grant.")
@click.option("--name", default="", help="Display name.")
@click.option("--description", default="")
@click.option("--owner", default="", help="Subject (user id) of the developer who owns it.")
@_realm
def register(
    *,
    client_id: str,
    kind: str,
    redirect_uris: tuple[str, ...],
    scopes: tuple[str, ...],
    roles: tuple[str, ...],
    auth_method: str | None,
    jwks_url: str,
    jwks_file: Path | None,
    service_account: bool,
    name: str,
    description: str,
    owner: str,
    realm: str,
) -> None:
    """Register CLIENT_ID; prints the credentials (the secret is shown only now)."""
    body: dict[str, Any] = {
        "client_id": client_id,
        "type": kind,
        "redirect_uris": list(redirect_uris),
        "scopes": list(scopes),
        "roles": list(roles),
        "service_account": service_account,
        "description": description,
    }
    if name:
        body["name"] = name
    if auth_method:
        body["auth_method"] = auth_method
    if jwks_url:
        body["jwks_url"] = jwks_url
    if jwks_file is not None:
        try:
            body["jwks"] = json.loads(jwks_file.read_text())
        except ValueError as exc:
            raise click.BadParameter("not JSON", param_hint="--jwks-file") from exc
    service = _service(realm)
    created = _run(lambda: service.register(_operator(owner), parse_registration(body)))
    _emit(created.as_dict())


@apps.command("rotate-secret")
@click.argument("client_id")
@_realm
def rotate_secret(client_id: str, realm: str) -> None:
    """Issue a new client secret (the old one stops working at once)."""
    service = _service(realm)
    _emit(_run(lambda: service.rotate_secret(_operator(""), client_id)).as_dict())


@apps.command("disable")
@click.argument("client_id")
@_realm
def disable(client_id: str, realm: str) -> None:
    """Disable CLIENT_ID: no new tokens; introspection reports its tokens inactive."""
    service = _service(realm)
    _emit(_run(lambda: service.disable(_operator(""), client_id)).as_dict())


@apps.command("enable")
@click.argument("client_id")
@_realm
def enable(client_id: str, realm: str) -> None:
    """Enable a disabled app again."""
    service = _service(realm)
    update = parse_update({"enabled": True})
    _emit(_run(lambda: service.update(_operator(""), client_id, update)).as_dict())


@apps.command("list")
@_realm
def list_apps(realm: str) -> None:
    """All apps registered through Anbao (not Keycloak's own clients)."""
    service = _service(realm)
    _emit([a.as_dict() for a in _run(lambda: service.list(_operator("")))])


@apps.command("show")
@click.argument("client_id")
@_realm
def show(client_id: str, realm: str) -> None:
    """Describe CLIENT_ID (never its secret)."""
    service = _service(realm)
    _emit(_run(lambda: service.describe(_operator(""), client_id)).as_dict())
