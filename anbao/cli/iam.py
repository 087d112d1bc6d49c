"""``anbao iam``: identity commands. Realm as code and Keycloak events live here.

Colleagues' command groups attach below with one ``iam.add_command(...)`` line each, so this
module stays the single place the ``iam`` group is assembled.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click
from keycloak.exceptions import KeycloakError

from anbao.cli.api import cli_settings, operator_settings
from anbao.settings import Settings
from anbao.wiring.keycloak import bootstrap_admins
from iam.errors import IamError
from iam.realm.errors import RealmFileInvalid
from iam.realm.model import RealmSpec

if TYPE_CHECKING:
    from iam.events.service import EventPuller
    from iam.orgs.keycloak import KeycloakOrgDirectory


@click.group("iam")
def iam() -> None:
    """Identity on Keycloak: realm as code, events out."""


def _overrides(pairs: tuple[str, ...], settings: Settings) -> dict[str, str]:
    out = {"keycloak_url": settings.keycloak.url.rstrip("/")}
    if settings.keycloak.client_secret:  # the introspection client's secret (anbao-realm.yaml)
        out["anbao_api_client_secret"] = settings.keycloak.client_secret.reveal()
    if settings.keycloak.admin_client_secret:  # Anbao's admin client's (anbao-realm.yaml)
        out["anbao_admin_client_secret"] = settings.keycloak.admin_client_secret.reveal()
    if settings.console.client_secret:  # the web console's confidential client (anbao-realm.yaml)
        out["anbao_console_client_secret"] = settings.console.client_secret.reveal()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--set")
        out[name] = value
    return out


@iam.command("apply")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--dry-run", is_flag=True, help="Print the diff, change nothing.")
@click.option("--prune", is_flag=True, help="Also delete what the file does not list.")
@click.option("--set", "pairs", multiple=True, metavar="NAME=VALUE", help="Set a ${variable}.")
@click.option("--realm", "realm_name", default="", help="Apply under another realm name.")
def apply_cmd(
    files: tuple[Path, ...], dry_run: bool, prune: bool, pairs: tuple[str, ...], realm_name: str
) -> None:
    """Operator command (Keycloak admin credentials): converge live Keycloak realms to FILES, in
    order (idempotent; deletes only with --prune).

    Every file is validated before anything is applied; exit status 2 names the bad YAML paths.
    """
    from iam.realm.keycloak import KeycloakRealmAdmin  # noqa: PLC0415
    from iam.realm.service import converge  # noqa: PLC0415

    settings = operator_settings()
    specs = _load_all(files, _overrides(pairs, settings), realm_name)
    try:
        # The master realm's admin: realm as code creates realms and clients.
        admin = bootstrap_admins(settings).python_keycloak()
        for spec in specs:
            result = converge(
                spec, KeycloakRealmAdmin(admin, spec.realm), dry_run=dry_run, prune=prune
            )
            for line in result.lines():
                click.echo(line)
    except IamError as exc:
        raise click.ClickException(exc.detail) from exc
    except KeycloakError as exc:
        raise click.ClickException(
            f"Keycloak admin API failed (HTTP {exc.response_code})."
        ) from exc


def _load_all(
    files: tuple[Path, ...], overrides: dict[str, str], realm_name: str
) -> list[RealmSpec]:
    from iam.realm.load import load_realm_file  # noqa: PLC0415

    specs, failed = [], False
    for file in files:
        try:
            spec = load_realm_file(file, overrides)
        except RealmFileInvalid as exc:
            failed = True
            for finding in exc.findings:
                click.echo(f"{file}: {finding}", err=True)
            continue
        specs.append(dataclasses.replace(spec, realm=realm_name) if realm_name else spec)
    if failed:
        sys.exit(2)
    return specs


@iam.group("events")
def events() -> None:
    """Keycloak login and admin events into the audit trail (operator commands).

    ``anbao serve`` pulls them itself (keycloak.events_pull); these commands are for a first
    import, a catch-up while the service is down, or a look at the stream. They use the Keycloak
    admin credentials of the settings (keycloak.admin_username, ANBAO_KEYCLOAK_ADMIN_PASSWORD).
    """


@events.command("pull")
@click.option("--realm", "realm_name", default="", help="Realm (default: keycloak.realm).")
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help="Print ECS JSON lines instead of recording into the audit trail (own cursor, --cursor).",
)
@click.option(
    "--cursor",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --stdout: SQLite file keeping the cursor [default: keycloak-events.sqlite3 in data_dir].",
)
@click.option("--once", is_flag=True, help="Pull what is there and exit.")
@click.option("--interval", type=click.FloatRange(1, 3600), default=30.0, show_default=True)
def pull_cmd(
    realm_name: str, to_stdout: bool, cursor: Path | None, once: bool, interval: float
) -> None:
    """Operator command (needs Keycloak admin credentials): pull Keycloak's events into the
    audit trail, enriched with each person's name, roles and org path.

    Records into the service's audit spool, with the stream cursor in the same transaction;
    the running service ships them. Refused while another puller (``anbao serve``) holds the
    lease: the service is already pulling. With --stdout, prints ECS JSON lines instead.
    """
    from anbao.wiring.audit import keycloak_event_sink  # noqa: PLC0415
    from anbao.wiring.iam import build_org_directory  # noqa: PLC0415
    from anbao.wiring.identity_events import build_puller, leased  # noqa: PLC0415

    settings = cli_settings()
    if realm_name:
        keycloak = dataclasses.replace(settings.keycloak, realm=realm_name)
        settings = dataclasses.replace(settings, keycloak=keycloak)
    realm = settings.keycloak.realm
    directory = build_org_directory(settings)
    if to_stdout:
        _pull(_stdout_puller(directory, settings, realm, cursor), once, interval)
        return
    with keycloak_event_sink(settings, realm) as sink:
        puller = build_puller(settings, sink.recorder, directory, realm=realm)
        if puller is None:
            raise click.ClickException(
                "set the Keycloak admin password (ANBAO_KEYCLOAK_ADMIN_PASSWORD)"
            )
        with leased(sink.recorder, settings) as held:
            if not held:
                raise click.ClickException(
                    "another puller (anbao serve) holds the lease: the service is pulling already"
                )
            _pull(puller, once, interval)


def _stdout_puller(
    directory: KeycloakOrgDirectory, settings: Settings, realm: str, cursor: Path | None
) -> EventPuller:
    from anbao.wiring.identity_events import cursor_store  # noqa: PLC0415
    from iam.events.keycloak import KeycloakEventSource  # noqa: PLC0415
    from iam.events.service import EventPuller, SplitJournal  # noqa: PLC0415

    cursor = cursor or Path(settings.data_dir) / "keycloak-events.sqlite3"
    return EventPuller(
        source=KeycloakEventSource(directory.admin),
        journal=SplitJournal(cursor_store(cursor), _StdoutSink()),
        realm=realm,
    )


def _pull(puller: EventPuller, once: bool, interval: float) -> None:
    try:
        if once:
            click.echo(f"{puller.pull_once()} event(s)", err=True)
        else:
            puller.run(interval, threading.Event())
    except IamError as exc:
        raise click.ClickException(exc.detail) from exc


class _StdoutSink:
    def emit(self, events: list[dict[str, object]]) -> None:
        for event in events:
            click.echo(json.dumps(event, ensure_ascii=False, sort_keys=True))


def _attach() -> None:
    from anbao.cli.iam_apps import apps  # noqa: PLC0415 - app onboarding
    from anbao.cli.iam_orgs import orgs  # noqa: PLC0415 - the org tree's commands
    from anbao.cli.iam_people import bootstrap_cmd, people  # noqa: PLC0415 - people, bootstrap

    iam.add_command(orgs)
    iam.add_command(apps)
    iam.add_command(people)
    iam.add_command(bootstrap_cmd)


_attach()
