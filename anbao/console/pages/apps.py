"""Apps (app-developer, platform-admin): register an OIDC client and run it afterwards.

Everything goes through ``/iam/apps`` with the person's token: the API checks the registration
(exact redirect URIs, PKCE, reserved names), who owns what, and who may give an app's roles.
A client secret is a credential shown exactly once — after registration and after each
rotation — through the session's one-time slot (:mod:`anbao.console.pages.once`), so a
reload or the browser's history does not show it again; the API never returns it twice either.
Giving or taking an app's role is a role grant: it asks for step-up first.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import falcon
import falcon.asgi

from anbao.console.api import ApiClient, Problem
from anbao.console.pages.once import show_once, status_of, take_once
from anbao.console.web import PREFIX, Console, Page, View
from anbao.web.asgi_app import AsgiApp

ROLES = frozenset({"app-developer", "platform-admin"})
_SPLIT = re.compile("[\\s,;\uff0c\uff1b]+")  # also the full-width comma and semicolon
DONE = {
    "uris": "The redirect URIs were saved.",
    "disabled": "The app was disabled: its tokens are no longer issued.",
    "enabled": "The app was enabled.",
    "role_added": "The role was added.",
    "assigned": "The role was given.",
    "unassigned": "The role was taken away.",
    "renamed": "The name was saved.",
}
_SENSITIVE = frozenset({"assign", "unassign"})


def app_url(client_id: str, done: str = "") -> str:
    url = f"{PREFIX}/apps/{quote(client_id, safe='')}"
    return f"{url}?done={done}" if done else url


def words(text: str) -> list[str]:
    """Lines, spaces, commas (also the Chinese ones) separate the entries of a list field."""
    return [w for w in _SPLIT.split(text.strip()) if w]


def registration(form: dict[str, str]) -> dict[str, Any]:
    """The API's registration body from the form (the API checks every field)."""
    body: dict[str, Any] = {
        "client_id": form.get("client_id", "").strip(),
        "type": form.get("type", "confidential"),
        "redirect_uris": words(form.get("redirect_uris", "")),
        "roles": words(form.get("roles", "")),
    }
    for field in ("name", "description"):
        if form.get(field, "").strip():
            body[field] = form[field].strip()
    if form.get("service_account") == "on" and body["type"] == "confidential":
        body["service_account"] = True
    return body


class Apps(Page):
    """``/console/apps``: the apps this person may see, and the registration form."""

    roles = ROLES

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        await self.show(view, req, resp)

    async def show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        *,
        error: Problem | None = None,
        form: dict[str, str] | None = None,
    ) -> None:
        async with view.api() as api:
            apps = (await api.get("/iam/apps"))["apps"]
        status = falcon.HTTP_200 if error is None else status_of(error)
        self.console.render(
            req, resp, "apps.html", view, status=status, apps=apps, error=error, form=form or {}
        )

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        try:
            async with view.api() as api:
                created = await api.send("POST", "/iam/apps", registration(form))
        except Problem as problem:
            await self.show(view, req, resp, error=problem, form=form)
            return
        client_id = str(created["client_id"])
        show_once(
            view, "secret", client_id=client_id, secret=created.get("client_secret"), new=True
        )
        raise falcon.HTTPSeeOther(app_url(client_id))


class AppPage(Page):
    """``/console/apps/{client_id}``: the app, its secret once, URIs, roles, snippet."""

    roles = ROLES
    action_label = "Give or take an app role"

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        await self.show(view, req, resp, params["client_id"])

    async def show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        client_id: str,
        *,
        error: Problem | None = None,
        form: dict[str, str] | None = None,
    ) -> None:
        once = take_once(view, "secret")
        path = f"/iam/apps/{quote(client_id, safe='')}"
        async with view.api() as api:
            try:
                app = await api.get(path)
            except Problem as problem:
                self.console.render(
                    req, resp, "error.html", view, status=status_of(problem), problem=problem
                )
                return
            roles = await _roles(api, path)
        issuer = self.console.oidc.issuer.rstrip("/")
        self.console.render(
            req,
            resp,
            "apps_item.html",
            view,
            status=falcon.HTTP_200 if error is None else status_of(error),
            app=app,
            roles=roles,
            error=error,
            form=form or {},
            done=DONE.get(req.get_param("done") or ""),
            secret=once if once and once.get("client_id") == client_id else None,
            issuer=issuer,
            discovery=issuer + "/.well-known/openid-configuration",
            token_endpoint=issuer + "/protocol/openid-connect/token",
            mine=app.get("owner") == view.session.subject or view.has("platform-admin"),
        )

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        client_id = params["client_id"]
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        action = form.get("action", "")
        if action in _SENSITIVE:
            view.require_acr()  # a role grant: step up before the API is asked
        try:
            async with view.api() as api:
                done = await _change(view, api, client_id, action, form)
        except Problem as problem:
            await self.show(view, req, resp, client_id, error=problem, form=form)
            return
        raise falcon.HTTPSeeOther(app_url(client_id, done))


async def _change(  # noqa: PLR0911 - one branch per form of the app's page
    view: View, api: ApiClient, client_id: str, action: str, form: dict[str, str]
) -> str:
    path = f"/iam/apps/{quote(client_id, safe='')}"
    holders = f"{path}/roles/{quote(form.get('role', ''), safe='')}/holders"
    if action == "uris":
        await api.send("PATCH", path, {"redirect_uris": words(form.get("redirect_uris", ""))})
        return "uris"
    if action == "rename":
        await api.send("PATCH", path, {"name": form.get("name", "").strip()})
        return "renamed"
    if action in {"disable", "enable"}:
        await api.send("PATCH", path, {"enabled": action == "enable"})
        return f"{action}d"
    if action == "rotate":
        rotated = await api.send("POST", f"{path}/secret")
        secret = (rotated or {}).get("client_secret")
        show_once(view, "secret", client_id=client_id, secret=secret, new=False)
        return ""
    if action == "add_role":
        await api.send("POST", f"{path}/roles", {"name": form.get("name", "").strip()})
        return "role_added"
    if action == "assign":
        await api.send("POST", holders, {"user": form.get("user", "").strip()})
        return "assigned"
    if action == "unassign":
        await api.send("DELETE", f"{holders}/{quote(form.get('user', ''), safe='')}")
        return "unassigned"
    raise falcon.HTTPBadRequest(title="Unknown action")


async def _roles(api: ApiClient, path: str) -> list[dict[str, Any]]:
    try:
        return list((await api.get(f"{path}/roles"))["roles"])
    except Problem:
        return []


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX + "/apps", Apps(console))
    app.add_route(PREFIX + "/apps/{client_id}", AppPage(console))
