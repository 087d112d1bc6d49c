"""Every console route, in one list: sign-in, static files, then one page module per role's job."""

from __future__ import annotations

from anbao.console import auth
from anbao.console.pages import (
    alerts,
    apps,
    audit,
    compliance,
    orgs,
    overview,
    seal_verify,
    seals,
)
from anbao.console.web import PREFIX, Console
from anbao.web.asgi_app import AsgiApp


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX + "/static/{digest}/{name:path}", console.assets)
    app.add_route(PREFIX + "/login", auth.Login(console))
    app.add_route(PREFIX + "/callback", auth.Callback(console, console.verifier))
    app.add_route(PREFIX + "/logout", auth.Logout(console))
    app.add_route(PREFIX + "/signed-out", auth.SignedOut(console))
    app.add_route(PREFIX + "/lang", auth.Language(console))
    app.add_route(PREFIX + "/resume", auth.Resume(console))
    for module in (overview, audit, alerts, orgs, apps, seals, seal_verify, compliance):
        module.add_routes(app, console)
