"""``anbao iam apps``: register apps, rotate secrets, disable, list, show; give and take roles.

Every command is a person using the platform, so it goes through Anbao's API
(:mod:`anbao.cli.api`) with that person's token (``anbao login``, or ``--token`` /
``ANBAO_TOKEN``): an app registered here is owned by whoever is signed in, and the server checks
and audits each act as for any other client. The CLI holds no Keycloak credential.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from anbao.cli.api import api_options, client, print_json


def _seg(value: str) -> str:
    """One path segment (a client id, role or user as typed: never a way into another path)."""
    return quote(value, safe="")


@click.group("apps")
def apps() -> None:
    """Apps registered as OIDC clients of the realm, and who holds their roles."""


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
@api_options
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
    api_url: str | None,
    token: str | None,
) -> None:
    """Register CLIENT_ID, owned by you; prints the credentials (the secret is shown only now)."""
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
    with client(api_url, token) as api:
        print_json(api.call("POST", "/iam/apps", body=body))


@apps.command("rotate-secret")
@click.argument("client_id")
@api_options
def rotate_secret(client_id: str, api_url: str | None, token: str | None) -> None:
    """Issue a new client secret (the old one stops working at once)."""
    with client(api_url, token) as api:
        print_json(api.call("POST", f"/iam/apps/{_seg(client_id)}/secret"))


def _patch(client_id: str, body: dict[str, Any], api_url: str | None, token: str | None) -> None:
    with client(api_url, token) as api:
        print_json(api.call("PATCH", f"/iam/apps/{_seg(client_id)}", body=body))


@apps.command("disable")
@click.argument("client_id")
@api_options
def disable(client_id: str, api_url: str | None, token: str | None) -> None:
    """Disable CLIENT_ID: no new tokens; introspection reports its tokens inactive."""
    _patch(client_id, {"enabled": False}, api_url, token)


@apps.command("enable")
@click.argument("client_id")
@api_options
def enable(client_id: str, api_url: str | None, token: str | None) -> None:
    """Enable a disabled app again."""
    _patch(client_id, {"enabled": True}, api_url, token)


@apps.command("list")
@api_options
def list_apps(api_url: str | None, token: str | None) -> None:
    """The apps you may see (yours; all of them for an org-admin or platform-admin), with roles."""
    with client(api_url, token) as api:
        print_json(api.call("GET", "/iam/apps")["apps"])


@apps.command("show")
@click.argument("client_id")
@api_options
def show(client_id: str, api_url: str | None, token: str | None) -> None:
    """Describe CLIENT_ID (never its secret)."""
    with client(api_url, token) as api:
        print_json(api.call("GET", f"/iam/apps/{_seg(client_id)}"))


@apps.command("roles")
@click.argument("client_id")
@api_options
def roles(client_id: str, api_url: str | None, token: str | None) -> None:
    """CLIENT_ID's roles and the holders you may see (an org-admin: your subtree)."""
    with client(api_url, token) as api:
        print_json(api.call("GET", f"/iam/apps/{_seg(client_id)}/roles"))


@apps.command("grant")
@click.argument("client_id")
@click.argument("username")
@click.argument("role")
@api_options
def grant(client_id: str, username: str, role: str, api_url: str | None, token: str | None) -> None:
    """Give USERNAME (or a person's id) the ROLE of CLIENT_ID (audited)."""
    path = f"/iam/apps/{_seg(client_id)}/roles/{_seg(role)}/holders"
    with client(api_url, token) as api:
        print_json(api.call("POST", path, body={"user": username}))


@apps.command("revoke")
@click.argument("client_id")
@click.argument("username")
@click.argument("role")
@api_options
def revoke(
    client_id: str, username: str, role: str, api_url: str | None, token: str | None
) -> None:
    """Take the ROLE of CLIENT_ID from USERNAME (or a person's id) (audited)."""
    path = f"/iam/apps/{_seg(client_id)}/roles/{_seg(role)}/holders/{_seg(username)}"
    with client(api_url, token) as api:
        api.call("DELETE", path)
    click.echo(f"{username} no longer holds {role} of {client_id}")
