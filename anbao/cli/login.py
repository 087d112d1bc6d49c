"""``anbao login``, ``anbao logout``, ``anbao whoami``: a person's session at the command line.

Signing in happens at Keycloak, in a browser, with the realm's own login (password, OTP,
federation), never by typing a password into the CLI: the device authorization grant when this
machine has no display, the loopback redirect with PKCE when it has one (:mod:`anbao.cli.oauth`).
The tokens go to the person's config directory (:mod:`anbao.cli.session`) and every acting
command then calls Anbao's API as that person (:mod:`anbao.cli.api`).
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser

import click

from anbao.cli import oauth, session
from anbao.cli.api import api_options, cli_settings, client, print_json
from iam.tokens.keycloak import issuer_url

DEFAULT_CLIENT = "anbao-cli"


def _has_display() -> bool:
    """Whether a browser can open here (a desktop session, or macOS/Windows)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _say(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()  # a script reading the line must not wait for the buffer


@click.command("login")
@click.option(
    "--device/--browser",
    default=None,
    help="Device code (open the link on any device) or a browser on this machine "
    "(default: the browser when there is a display).",
)
@click.option("--no-open", is_flag=True, help="--browser: print the link instead of opening it.")
@click.option(
    "--acr",
    type=click.Choice(["1", "2"]),
    default=None,
    help="Level of authentication to ask for (2: with OTP, for acts that need step-up; "
    "with --browser).",
)
@click.option(
    "--client-id",
    envvar="ANBAO_CLI_CLIENT_ID",
    default=DEFAULT_CLIENT,
    show_default=True,
    help="The realm's public client for the CLI.",
)
def login(device: bool | None, no_open: bool, acr: str | None, client_id: str) -> None:
    """Sign in at Keycloak; the tokens are kept (mode 0600) for the commands that act."""
    settings = cli_settings()
    issuer = issuer_url(settings.keycloak.url, settings.keycloak.realm)
    provider = oauth.discover(issuer)
    if device and acr == "2":
        # Keycloak carries no acr request through the device grant (tried: acr_values and the
        # claims parameter both give a level-1 token), so asking would silently give less.
        raise click.UsageError(
            "--acr 2 needs --browser: Keycloak's device flow signs in at level 1"
        )
    if device is None:
        device = acr != "2" and not _has_display()
    if device:
        tokens = oauth.device_sign_in(
            provider,
            client_id,
            announce=lambda uri, code: _say(f"Open {uri} and confirm the code {code}"),
        )
    else:
        tokens = oauth.loopback_sign_in(
            provider, client_id, acr=acr, open_url=lambda url: _open(url, no_open=no_open)
        )
    issued = time.time()
    name = oauth.username(provider, str(tokens["access_token"]))
    blank = session.Login(
        issuer=issuer,
        client_id=client_id,
        token_endpoint=provider.token_endpoint,
        revocation_endpoint=provider.revocation_endpoint,
        username=name,
        access_token="",
        refresh_token="",
        expires_at=0.0,
    )
    session.save(blank.with_tokens(tokens, issued))
    _say(f"Signed in to {issuer} as {name}")


def _open(url: str, *, no_open: bool) -> None:
    if no_open or not webbrowser.open(url):
        _say(f"Open {url} in a browser on this machine")
    else:
        _say(f"Opened {url} in your browser")


@click.command("logout")
def logout() -> None:
    """End the session at Keycloak (RFC 7009 revocation) and delete the stored tokens."""
    stored = session.load()
    if stored is None:
        session.forget()  # a file of an older format goes too
        _say("Not signed in")
        return
    try:
        oauth.revoke(stored.revocation_endpoint, stored.client_id, stored.refresh_token)
    finally:
        # Whatever Keycloak answered, the tokens leave this machine; a failure is still
        # reported (the session then ends at the realm's idle timeout).
        session.forget()
    _say(f"Signed out of {stored.issuer} ({stored.username})")


@click.command("whoami")
@api_options
def whoami(api_url: str | None, token: str | None) -> None:
    """Who Anbao's API sees in your token (GET /whoami): user, roles, acr, org path."""
    with client(api_url, token) as api:
        print_json(api.call("GET", "/whoami"))
