"""One person of the org tree: details, enabled, realm roles, app roles, memberships, invitation.

Each change is one API call with the administrator's token (``/iam/people/…``,
``/iam/invitations``, ``/iam/apps/…/holders``); delegated administration (subtree, roles the
admin holds, nobody administers themselves) is the API's to decide and its refusal is shown on
the page. Granting or revoking a role — realm or app — asks for step-up first.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import falcon
import falcon.asgi

from anbao.console.api import ApiClient, Problem
from anbao.console.pages.once import grantable, show_once, status_of, take_once
from anbao.console.pages.orgs.tree import ROLES, _link
from anbao.console.web import PREFIX, Page, View
from iam.orgs import PLATFORM_ROLES

#: How many apps the person's app roles are read from (one call per app).
MAX_APPS = 50
DONE = {
    "enabled": "The account was enabled.",
    "disabled": "The account was disabled.",
    "granted": "The role was granted.",
    "revoked": "The role was revoked.",
    "joined": "The membership was added.",
    "left": "The membership was removed.",
    "resent": "A new invitation was sent; the old link no longer works.",
    "uninvited": "The invitation was revoked and the account disabled.",
    "app_granted": "The app role was given.",
    "app_revoked": "The app role was taken away.",
}
_SENSITIVE = frozenset({"grant", "revoke", "app_grant", "app_revoke"})


def person_url(person_id: str, done: str = "") -> str:
    url = f"{PREFIX}/orgs/people/{quote(person_id, safe='')}"
    return f"{url}?done={done}" if done else url


class PersonPage(Page):
    roles = ROLES
    action_label = "Grant or revoke a role"

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        await self.show(view, req, resp, params["person_id"])

    async def show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        person_id: str,
        *,
        error: Problem | None = None,
        form: dict[str, str] | None = None,
    ) -> None:
        context: dict[str, Any] = {
            "error": error,
            "form": form or {},
            "done": DONE.get(req.get_param("done") or ""),
            "invitation": take_once(view, "invitation"),
            "platform_roles": sorted(PLATFORM_ROLES),
            "grantable": grantable(view),
        }
        status = falcon.HTTP_200 if error is None else status_of(error)
        async with view.api() as api:
            try:
                person = await api.get(f"/iam/people/{quote(person_id, safe='')}")
            except Problem as problem:
                self.console.render(
                    req, resp, "error.html", view, status=status_of(problem), problem=problem
                )
                return
            nodes, bound, (apps, held) = await asyncio.gather(
                asyncio.gather(*(_node(api, n) for n in person["memberships"])),
                _shown_node(api, str(person.get("admin_node") or "")),
                _app_roles(api, person["id"]),
            )
            context.update(person=person, nodes=nodes, admin_node=bound, apps=apps, held=held)
        self.console.render(req, resp, "orgs_person.html", view, status=status, **context)

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        person_id = params["person_id"]
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        action = form.get("action", "")
        if action in _SENSITIVE:
            view.require_acr()  # a role grant: step up before the API is asked
        try:
            async with view.api() as api:
                done = await _change(
                    view, api, person_id, action, form=form, base=req.forwarded_prefix
                )
        except Problem as problem:
            await self.show(view, req, resp, person_id, error=problem, form=form)
            return
        raise falcon.HTTPSeeOther(person_url(person_id, done))


async def _change(  # noqa: PLR0911 - one branch per form of the person's page
    view: View, api: ApiClient, person_id: str, action: str, *, form: dict[str, str], base: str
) -> str:
    person = f"/iam/people/{quote(person_id, safe='')}"
    role = quote(form.get("role", ""), safe="")
    if action in {"enable", "disable"}:
        await api.send("PATCH", person, {"enabled": action == "enable"})
        return f"{action}d"
    if action == "grant":
        bind = form.get("node", "").strip()
        body = {"node_id": (await _node(api, bind))["id"]} if bind else {}
        await api.send("PUT", f"{person}/roles/{role}", body)
        return "granted"
    if action == "revoke":
        await api.send("DELETE", f"{person}/roles/{role}")
        return "revoked"
    if action in {"join", "leave"}:
        target = await _node(api, form.get("node", "").strip())
        method = "PUT" if action == "join" else "DELETE"
        await api.send(method, f"{person}/memberships/{target['id']}")
        return "joined" if action == "join" else "left"
    if action == "resend":
        invitation = await api.send("POST", f"{person}/invitation")
        show_once(view, "invitation", **_link(invitation or {}, base))
        return "resent"
    if action == "uninvite":
        await api.send("DELETE", f"{person}/invitation")
        return "uninvited"
    if action in {"app_grant", "app_revoke"}:
        client_id, _, app_role = form.get("app_role", "").partition(" ")
        holders = f"/iam/apps/{quote(client_id, safe='')}/roles/{quote(app_role, safe='')}/holders"
        if action == "app_grant":
            await api.send("POST", holders, {"user": person_id})
            return "app_granted"
        await api.send("DELETE", f"{holders}/{quote(person_id, safe='')}")
        return "app_revoked"
    raise falcon.HTTPBadRequest(title="Unknown action")


async def _node(api: ApiClient, ref: str) -> dict[str, Any]:
    """A node by id or code, as the API shows it (404 outside the admin's subtree)."""
    if not ref:
        raise Problem(400, "about:blank", "Name an org node", "", {})
    node: dict[str, Any] = await api.get(f"/iam/orgs/{quote(ref, safe='')}")
    return node


async def _shown_node(api: ApiClient, ref: str) -> dict[str, Any] | None:
    """A node the API shows this admin, else None (no binding, or one out of their reach)."""
    if not ref:
        return None
    try:
        return await _node(api, ref)
    except Problem:
        return None


async def _app_roles(
    api: ApiClient, person_id: str
) -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
    """Every (app, role) this admin may give, and those the person holds."""
    try:
        apps = (await api.get("/iam/apps"))["apps"][:MAX_APPS]
    except Problem:
        return [], set()

    async def roles_of(client_id: str) -> list[dict[str, Any]]:
        try:
            return list((await api.get(f"/iam/apps/{quote(client_id, safe='')}/roles"))["roles"])
        except Problem:
            return []

    offered: list[tuple[str, str]] = []
    held: set[tuple[str, str]] = set()
    every = await asyncio.gather(*(roles_of(str(app["client_id"])) for app in apps))
    for app, roles in zip(apps, every, strict=True):
        for role in roles:
            pair = (str(app["client_id"]), str(role["name"]))
            offered.append(pair)
            if any(h["id"] == person_id for h in role["holders"]):
                held.add(pair)
    return offered, held
