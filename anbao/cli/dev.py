"""``anbao dev``: development helpers (operator commands: they use Keycloak admin credentials).

``anbao dev seed`` populates a development platform (``make run`` runs it unless
``ANBAO_DEMO=0``); production settings refuse it with exit status 2.
"""

from __future__ import annotations

import sys

import click

from anbao.cli.api import operator_settings


@click.group("dev")
def dev() -> None:
    """Development only: demo data for a local platform."""


@dev.command("seed")
@click.option("--realm", default="", help="Realm (default: keycloak.realm).")
def seed_cmd(realm: str) -> None:
    """Create the demo org tree, people, app, development keys and samples (idempotent).

    Needs Keycloak admin credentials (keycloak.admin_username / admin_password, or
    KEYCLOAK_ADMIN_PASSWORD). Refused when environment is production (exit 2).
    """
    from anbao.demo import DemoRefused, demo_files, refuse_production, seed  # noqa: PLC0415
    from anbao.wiring.iam import (  # noqa: PLC0415
        build_app_directory,
        build_app_service,
        build_org_directory,
    )
    from iam.errors import IamError  # noqa: PLC0415

    settings = operator_settings(realm)
    try:
        refuse_production(settings)
        directory = build_org_directory(settings)
        try:
            report = seed(
                settings, directory, build_app_service(settings, build_app_directory(settings))
            )
        finally:
            directory.admin.close()
    except DemoRefused as exc:
        click.echo(f"anbao: {exc}", err=True)
        sys.exit(2)
    except IamError as exc:
        click.echo(f"anbao: {exc.code}: {exc.detail}", err=True)
        sys.exit(1)
    for line in report.lines:
        click.echo(line)
    if report.created:
        click.echo(f"anbao dev seed: {report.created} created in realm {settings.keycloak.realm}")
    else:
        click.echo(f"anbao dev seed: nothing changed (realm {settings.keycloak.realm})")
    click.echo(f"settings for `anbao serve`: ANBAO_CONFIG={demo_files(settings).config}")


@dev.command("people")
def people_cmd() -> None:
    """Print the demo people: username, role, org, what to try (development credentials)."""
    from anbao.demo import NODES, OTP_KEY, PASSWORD, PEOPLE  # noqa: PLC0415

    names = {n.key: f"{n.name} {n.code}" for n in NODES}
    click.echo(f"  password of each: {PASSWORD}   authenticator key (TOTP): {OTP_KEY}")
    for p in PEOPLE:
        org = names[p.bound_to or p.member_of]
        click.echo(f"  {p.username:<17} {p.role:<19} {org:<17} {p.can}")


@dev.command("otp")
def otp_cmd() -> None:
    """Print the demo people's current OTP code (their shared development authenticator)."""
    import time  # noqa: PLC0415

    from anbao.demo.data import otp_code  # noqa: PLC0415

    now = time.time()
    click.echo(f"{otp_code(now)}   (valid {30 - int(now) % 30} s more)")
