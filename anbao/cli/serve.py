"""``anbao serve`` and ``anbao settings``: start-up checks, then uvicorn.

Server choice (measured by ``bench/http.py``): Falcon ASGI on uvicorn with uvloop and
httptools. On this 2-core class of machine it served several times a gunicorn sync setup, and
httptools sets TCP_NODELAY, which the plain asyncio/h11 path does not (a ~40 ms stall per
keep-alive response under Nagle + delayed ACK).
"""

from __future__ import annotations

import json
import os
import sys

import click
import httpx

from anbao import logs
from anbao.logs import redact
from anbao.settings import Settings, SettingsError
from anbao.web import AsgiApp


def load_settings() -> Settings:
    """Settings from the environment, or one line naming the bad setting and exit 2."""
    try:
        return Settings.load(os.environ)
    except SettingsError as exc:
        click.echo(f"anbao: {exc}", err=True)
        sys.exit(2)


def _check_keycloak(settings: Settings) -> None:
    kc = settings.keycloak
    url = f"{kc.url.rstrip('/')}/realms/{kc.realm}/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=kc.timeout_seconds)
    except httpx.HTTPError as exc:
        reason = type(exc).__name__
        click.echo(
            f"anbao: setting keycloak.url (ANBAO_KEYCLOAK_URL): cannot reach Keycloak at {kc.url} ({reason})",
            err=True,
        )
        sys.exit(1)
    if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
        click.echo(
            f"anbao: setting keycloak.realm (ANBAO_KEYCLOAK_REALM): realm {kc.realm!r} not served by {kc.url} (HTTP {response.status_code})",
            err=True,
        )
        sys.exit(1)


def _check_audit_store(settings: Settings) -> None:
    from anbao.audit_wiring import build_audit_store  # noqa: PLC0415 - only after settings are valid
    from audit.errors import AuditError  # noqa: PLC0415

    try:
        store = build_audit_store(settings)
        try:
            store.ping()
        finally:
            store.close()
    except AuditError as exc:
        click.echo(f"anbao: setting audit.store (ANBAO_AUDIT_STORE): {exc.detail}", err=True)
        sys.exit(1)


def _build_app(settings: Settings) -> AsgiApp:
    """Build the app before serving, so that a bad file or key is one line, not a traceback."""
    from anbao.app import create_app  # noqa: PLC0415 - only after settings are valid

    try:
        return create_app(settings)
    except SettingsError as exc:
        click.echo(f"anbao: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - reported in one line; details would be a traceback
        click.echo(f"anbao: cannot start: {type(exc).__name__}: {redact(str(exc))}", err=True)
        sys.exit(1)


@click.command()
@click.option("--check", is_flag=True, help="Validate settings and reach dependencies, then exit.")
def serve(check: bool) -> None:
    """Run the API server (uvicorn, uvloop, httptools)."""
    import uvicorn  # noqa: PLC0415 - keeps the other commands fast to start

    settings = load_settings()
    if settings.keycloak.required:
        _check_keycloak(settings)
    _check_audit_store(settings)
    logs.configure(settings.server.log_level)
    app = _build_app(settings)
    if check:
        click.echo("anbao: settings valid, dependencies reachable")
        return
    server = settings.server
    scheme = "https" if server.tls_cert_file else "http"
    click.echo(
        f"anbao: serving on {scheme}://{server.host}:{server.port} (workers: {server.workers})",
        err=True,
    )
    uvicorn.run(
        # One worker serves the app already built; several import it anew in each process.
        app if server.workers == 1 else "anbao.asgi:app",
        host=server.host,
        port=server.port,
        workers=server.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        ssl_certfile=server.tls_cert_file or None,
        ssl_keyfile=server.tls_key_file or None,
        proxy_headers=server.behind_tls_proxy,
    )


@click.command("settings")
def show_settings() -> None:
    """Print the effective settings as JSON, secrets masked."""
    click.echo(json.dumps(load_settings().redacted(), indent=2, ensure_ascii=False))
