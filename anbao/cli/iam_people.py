"""``anbao iam bootstrap`` (operator) and ``anbao iam people`` (a person, through the API).

``bootstrap`` is an OPERATOR command: it uses the Keycloak admin credentials of the settings
(``keycloak.admin_username`` / ``ANBAO_KEYCLOAK_ADMIN_PASSWORD``) because nobody can sign in
yet. It runs once per realm, in development and production alike, and records itself in the
audit trail (the service's spool). Everything else here is a person acting: it goes through
Anbao's API with that person's token (``anbao login`` or ``--token``), where delegated
administration, introspection and the audit trail apply.
"""

from __future__ import annotations

from typing import Any

import click

from anbao.cli.api import ApiClient, api_options, client, operator_settings, print_json
from iam.errors import IamError
from iam.orgs.model import PersonDraft

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")


@click.command("bootstrap")
@click.option("--username", default="anbao-admin", show_default=True)
@click.option("--email", default="", help="The admin's e-mail address.")
@click.option("--family-name", default="Admin", show_default=True)
@click.option("--given-name", default="Platform", show_default=True)
@click.option("--realm", default="", help="Realm (default: keycloak.realm).")
@_JSON
def bootstrap_cmd(  # noqa: PLR0917 - click passes options positionally
    username: str, email: str, family_name: str, given_name: str, realm: str, as_json: bool
) -> None:
    """OPERATOR: create the first platform-admin (uses Keycloak admin credentials).

    Prints a one-time password once; at first sign-in Keycloak makes the admin choose a new
    password and enrol an authenticator app (OTP). Refused (exit 1) when a platform-admin
    exists. Audited (actor: this command; target: the new admin).
    """
    from anbao.wiring.audit import spool_recorder  # noqa: PLC0415
    from anbao.wiring.iam import build_org_directory  # noqa: PLC0415 - the app's one factory
    from anbao.wiring.people import RecorderInvitationAudit, sign_in_url  # noqa: PLC0415
    from iam.invitations import bootstrap  # noqa: PLC0415
    from iam.invitations.keycloak import KeycloakAccounts  # noqa: PLC0415

    settings = operator_settings(realm)
    directory = build_org_directory(settings)
    draft = PersonDraft(username, family_name, given_name, email)
    try:
        with spool_recorder(settings) as recorder:
            made = bootstrap(
                directory,
                KeycloakAccounts(directory.admin),
                RecorderInvitationAudit(lambda: recorder),
                draft,
            )
    except IamError as exc:
        raise click.ClickException(f"{exc.detail} [{exc.code}]") from None
    finally:
        directory.admin.close()
    url = sign_in_url(settings)
    if as_json:
        print_json(made.as_json() | {"sign_in_url": url})
        return
    click.echo(f"Created the first platform-admin: {made.username}")
    click.echo(f"One-time password (shown once, write it down now): {made.password}")
    click.echo(f"Sign in at {url}: you will choose a new password and set up an authenticator")
    click.echo("app (OTP). Then sign in to the API with `anbao login`.")


@click.group("people")
def people() -> None:
    """People: invite, resend, revoke, find (as yourself, through Anbao's API)."""


def node_id(api: ApiClient, ref: str) -> str:
    """A node's id from its id or code (GB/T 2260 code, credit code), as the API sees it."""
    node = api.call("GET", f"/iam/orgs/{ref}")
    return str(node["id"])


def person_id(api: ApiClient, ref: str) -> str:
    """A person's id from a username (exact) or an id."""
    found = api.call("GET", "/iam/people", params={"q": ref, "max": 50})
    for person in found["items"]:
        if ref in {person["username"], person["id"]}:
            return str(person["id"])
    raise click.ClickException(f"no person {ref!r} that you administer")


def person_body(  # noqa: PLR0917 - the fields of a person, as the API names them
    api: ApiClient,
    username: str,
    family_name: str,
    given_name: str,
    email: str,
    orgs: tuple[str, ...],
) -> dict[str, Any]:
    """The body of ``POST /iam/people`` and ``/iam/invitations``; nodes by id or code."""
    body: dict[str, Any] = {
        "username": username,
        "family_name": family_name,
        "given_name": given_name,
        "memberships": [node_id(api, ref) for ref in orgs],
    }
    if email:
        body["email"] = email
    return body


def _show_invitation(invitation: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(invitation)
        return
    if invitation["delivery"] == "email":
        click.echo(f"{invitation['username']}: Keycloak sent the activation e-mail.")
        return
    click.echo(f"{invitation['username']}: activation link (shown once; give it to them):")
    click.echo(invitation["activation_url"])


@people.command("invite")
@click.argument("username")
@click.option("--family-name", required=True)
@click.option("--given-name", required=True)
@click.option("--email", default="", help="With it, and SMTP in the realm: an e-mail.")
@click.option("--org", "orgs", multiple=True, required=True, help="Org node id or code (repeat).")
@click.option("--role", default=None, help="A platform role to grant (e.g. org-admin).")
@click.option("--bind", default=None, help="Node (id or code) the role binds to.")
@_JSON
@api_options
def invite_cmd(  # noqa: PLR0917 - click passes options positionally
    username: str,
    family_name: str,
    given_name: str,
    email: str,
    orgs: tuple[str, ...],
    role: str | None,
    bind: str | None,
    as_json: bool,
    api_url: str | None,
    token: str | None,
) -> None:
    """Invite a person: create them, grant a role, and send credentials."""
    with client(api_url, token) as api:
        body = person_body(api, username, family_name, given_name, email, orgs)
        if role:
            body["role"] = role
        if bind:
            body["node_id"] = node_id(api, bind)
        _show_invitation(api.call("POST", "/iam/invitations", body=body), as_json)


@people.command("resend")
@click.argument("person")
@_JSON
@api_options
def resend_cmd(person: str, as_json: bool, api_url: str | None, token: str | None) -> None:
    """Send a pending invitation again (a new link; the old one stops working)."""
    with client(api_url, token) as api:
        pid = person_id(api, person)
        _show_invitation(api.call("POST", f"/iam/people/{pid}/invitation"), as_json)


@people.command("revoke")
@click.argument("person")
@api_options
def revoke_cmd(person: str, api_url: str | None, token: str | None) -> None:
    """Revoke a pending invitation: the link stops working, the account is disabled."""
    with client(api_url, token) as api:
        pid = person_id(api, person)
        print_json(api.call("DELETE", f"/iam/people/{pid}/invitation"))


@people.command("find")
@click.argument("query")
@click.option("--first", type=click.IntRange(0), default=0)
@click.option("--max", "size", type=click.IntRange(1, 500), default=50)
@_JSON
@api_options
def find_cmd(  # noqa: PLR0917 - click passes options positionally
    query: str, first: int, size: int, as_json: bool, api_url: str | None, token: str | None
) -> None:
    """Find people you administer by username, e-mail or name (a substring)."""
    with client(api_url, token) as api:
        found = api.call("GET", "/iam/people", params={"q": query, "first": first, "max": size})
    if as_json:
        print_json(found)
        return
    for p in found["items"]:
        name = f"{p['family_name']}{p['given_name']}"
        state = "" if p["enabled"] else " (disabled)"
        click.echo(f"{p['username']}\t{name}\t{p['email']}\t{p['org_path']}\t{p['id']}{state}")
