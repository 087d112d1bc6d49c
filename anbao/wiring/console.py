"""The web console's wiring: its session store, its realm client and its pages on the app.

The console reads the platform through the API itself (:mod:`anbao.console.api`), so all it
needs from the composition root is the built app, the API's token verifier (the same rules
decide who a session's token names) and settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from anbao.console import routes
from anbao.console.assets import Assets
from anbao.console.oidc import OidcClient
from anbao.console.sessions import SessionStore
from anbao.console.sessions_sql import SqlSessionRows
from anbao.console.web import Console
from anbao.settings import Environment, Settings
from anbao.web.asgi_app import AsgiApp
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.feature import Feature, OnShutdown
from iam.tokens.keycloak import issuer_url
from iam.tokens.verifier import TokenVerifier


def session_store(settings: Settings, clock: Callable[[], float] = time.time) -> SessionStore:
    """The console's sessions: a SQLite file on one machine; clustered, the cluster database,
    sealed with the one key file the operator gives every node (a node never makes its own:
    see :mod:`anbao.console.sessions`)."""
    cs, clustered = settings.console, settings.cluster.clustered
    return SessionStore(
        cs.session_path,
        cs.session_key_file,
        clock,
        rows=SqlSessionRows(cluster_engine(settings)) if clustered else None,
        create_key=not clustered,
    )


def feature(
    settings: Settings,
    app: AsgiApp,
    verifier: TokenVerifier,
    clock: Callable[[], float] = time.time,
) -> Feature:
    """The console's routes under ``/console/`` (none when ``console.enabled`` is false)."""
    if not settings.console.enabled:
        return Feature("console")
    cs = settings.console
    base = settings.console_url()
    http = httpx.AsyncClient(timeout=settings.keycloak.timeout_seconds * 3)
    store = session_store(settings, clock)
    issuer = issuer_url(settings.keycloak.url, settings.keycloak.realm)
    kc = urlsplit(settings.keycloak.url)
    console = Console(
        app=app,
        store=store,
        oidc=OidcClient(
            issuer=issuer,
            client_id=cs.client_id,
            client_secret=cs.client_secret.reveal(),
            redirect_uri=base + "/console/callback",
            post_logout_uri=base + "/console/signed-out",
            http=http,
        ),
        verifier=verifier,
        assets=Assets(),
        zone=cs.timezone,
        secure_cookies=settings.environment is Environment.PRODUCTION
        or urlsplit(base).scheme == "https",
        keycloak_origin=f"{kc.scheme}://{kc.netloc}",
        clock=clock,
    )

    async def close() -> None:
        await http.aclose()
        store.close()

    return Feature(
        "console",
        routes=lambda api: routes.add_routes(api.app, console),
        lifespan=(OnShutdown(close),),
    )
