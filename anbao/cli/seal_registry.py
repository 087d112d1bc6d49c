"""``anbao seal db|ca|keys``: operator commands of the seal registry; ``anbao seal registry``.

``db``, ``ca`` and ``keys`` are operator commands: they read the same settings as the server
(``seals.*``, from ``ANBAO_CONFIG`` and ``ANBAO_*``) and work on the registry database and its
key-encryption keys directly, as the person who runs the platform. ``registry list|show`` read
the registry as a person, through the API (:mod:`anbao.cli.api`), so the server scopes them to
the caller's live org binding. Lifecycle transitions (apply, approve, make, activate, suspend,
resume, revoke) and signing are not CLI commands: they go through the API, where roles, the
step-up sign-in and the audit trail apply.

Attached to the ``seal`` group at import (``anbao.cli.__init__``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

import click

from anbao.cli.api import api_options, client, print_json, segment
from anbao.cli.crypto import handles_bad_input, write_output
from anbao.cli.seal import seal
from anbao.cli.stores import require
from anbao.settings import Settings, SettingsError
from anbao.wiring.seals import SEAL_MIGRATIONS, registry_config, seal_database, seal_engine
from crypto.keystore import KekRing, SoftwareKeyStore
from crypto.seals.ca import CaConfig, SealCa
from crypto.seals.registry.model import SealState
from crypto.seals.registry.sql import SqlCaRepository, SqlWrappedKeys


def _settings(*, existing: bool = True) -> Settings:
    """The settings; the registry's database must exist unless the command creates it."""
    try:
        settings = Settings.load(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if existing:
        url = settings.seals.database_url.reveal()
        require("seals.database_url", url, made_by="anbao seal db upgrade")
    return settings


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ca(settings: Settings) -> SealCa:
    config = registry_config(settings)
    engine = seal_engine(settings, migrate=False)
    keys = SoftwareKeyStore(SqlWrappedKeys(engine), KekRing.parse(config.kek), clock=_now)
    ca_config = CaConfig(
        organization=config.organization,
        crl_url=config.crl_url,
        crl_next_update=config.crl_next_update,
    )
    return SealCa(SqlCaRepository(engine), keys, ca_config)


@seal.group("db")
def db() -> None:
    """Operator command: the registry database schema (Alembic migrations shipped with Anbao)."""


@db.command("upgrade")
@handles_bad_input
def db_upgrade() -> None:
    """Migrate seals.database_url to the newest schema (idempotent)."""
    engine = seal_database(_settings(existing=False))
    SEAL_MIGRATIONS.upgrade(engine)
    click.echo(f"seal registry schema at {SEAL_MIGRATIONS.current(engine)}")


@db.command("current")
@handles_bad_input
def db_current() -> None:
    """Print the schema revision (exit 1 when not at the shipped head)."""
    engine = seal_database(_settings())
    found = SEAL_MIGRATIONS.current(engine)
    click.echo(f"{found or 'none'} (head {SEAL_MIGRATIONS.head()})")
    if found != SEAL_MIGRATIONS.head():
        raise click.exceptions.Exit(1)


@seal.group("ca")
def ca_group() -> None:
    """Operator command: the seal CA (root, issuing CA, maker and TSA certificates, CRL)."""


@ca_group.command("init")
@handles_bad_input
def ca_init() -> None:
    """Create whatever of the CA hierarchy is missing (idempotent)."""
    ca = _ca(_settings())
    ca.bootstrap(_now())
    click.echo(ca.trust_roots()[0].pem().decode(), nl=False)


@ca_group.command("certs")
@click.option("-o", "--out", "out", default="-", help="PEM bundle file (default stdout).")
@handles_bad_input
def ca_certs(out: str) -> None:
    """Root and issuing CA certificates (PEM), for verifiers' trust stores."""
    ca = _ca(_settings())
    write_output(out, b"".join(c.pem() for c in [*ca.trust_roots(), *ca.intermediates()]))


@ca_group.command("crl")
@click.option("-o", "--out", "out", default="-", help="CRL file (PEM; default stdout).")
@handles_bad_input
def ca_crl(out: str) -> None:
    """The issuing CA's current CRL."""
    write_output(out, _ca(_settings()).crl(_now()).pem())


@seal.group("keys")
def keys_group() -> None:
    """Operator command: the software key store's key-encryption keys (KEK)."""


@keys_group.command("new-kek")
@click.argument("kek_id")
def keys_new_kek(kek_id: str) -> None:
    """Print a new 'id:base64' KEK entry; put it first in seals.kek to make it active."""
    click.echo(KekRing.generate_entry(kek_id))


@keys_group.command("rotate")
@handles_bad_input
def keys_rotate() -> None:
    """Re-wrap every key under the active (first) KEK; then old KEKs can be removed."""
    settings = _settings()
    config = registry_config(settings)
    engine = seal_engine(settings, migrate=False)
    store = SoftwareKeyStore(SqlWrappedKeys(engine), KekRing.parse(config.kek), clock=_now)
    count = store.rewrap_all()
    click.echo(json.dumps({"rewrapped": count, "keys_per_kek": store.kek_usage()}))


@seal.group("registry")
def registry_group() -> None:
    """Read the seal registry as yourself, through the API (you see your org scope)."""


@registry_group.command("list")
@click.option("--state", type=click.Choice([s.value for s in SealState]), default=None)
@click.option("--org", "org", default=None, help="Only seals whose org_path starts with this.")
@api_options
def registry_list(
    state: str | None, org: str | None, api_url: str | None, token: str | None
) -> None:
    """One JSON line per seal you may see, newest first (``--org`` narrows the listing the
    server scoped to your live org binding; it widens nothing)."""
    with client(api_url, token) as api:
        seals = api.call("GET", "/seals", params={"state": state})["seals"]
    for view in seals:
        if org and not str(view.get("org_path", "")).startswith(org):
            continue
        view.pop("seal", None)
        click.echo(json.dumps(view, ensure_ascii=False))


@registry_group.command("show")
@click.argument("seal_id")
@click.option("--esl", type=click.Path(path_type=Path), help="Also write the SESeal (DER) here.")
@api_options
def registry_show(seal_id: str, esl: Path | None, api_url: str | None, token: str | None) -> None:
    """A seal as JSON; exit 1 when there is no such seal in your scope."""
    with client(api_url, token) as api:
        view = api.call("GET", f"/seals/{segment(seal_id)}")
    der = view.pop("seal", None)
    if esl is not None and der:
        write_output(str(esl), base64.b64decode(der))
    print_json(view)
