"""The org tree: browse, search, a node's details and people, and changes to the node.

Everything shown comes from ``/iam/orgs`` and ``/iam/people`` with the person's own token: an
org-admin's roots are the one node their live delegation binding names, and anything outside
it is "no such node" — the page shows the API's answer, it never filters paths itself.
Children load with htmx as a branch is opened (``<details>`` is the disclosure widget, so
expanding and collapsing work with the keyboard and without script).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any
from urllib.parse import quote

import falcon
import falcon.asgi

from anbao.console.api import ApiClient, Problem
from anbao.console.pages.once import grantable, show_once, status_of, take_once
from anbao.console.web import PREFIX, Page, View
from iam.orgs import PLATFORM_ROLES

ROLES = frozenset({"platform-admin", "org-admin"})
#: The five levels and what sits under each (departments sit under any node).
CHILD_KINDS = {
    "province": ("prefecture", "department"),
    "prefecture": ("county", "department"),
    "county": ("township", "department"),
    "township": ("village", "department"),
    "village": ("department",),
    "department": ("department",),
}
PAGE_SIZE = 50
#: Changes that grant a role (binding an org-admin): step-up first.
_SENSITIVE = frozenset({"bind"})
_CODE = re.compile(r"[0-9A-Za-z]{6,18}")
#: What a finished change says (the query's ``done``); never free text from the URL.
DONE = {
    "renamed": "The node was renamed.",
    "disabled": "The node was disabled.",
    "enabled": "The node was enabled.",
    "created": "The node was created.",
    "invited": "The person was invited.",
    "bound": "The administrator was bound to this node.",
}


def node_url(node_id: str, **query: str) -> str:
    extra = "".join(f"&{k}={quote(v, safe='')}" for k, v in query.items())
    return f"{PREFIX}/orgs?node={quote(node_id, safe='')}{extra}"


async def ancestors(api: ApiClient, node: dict[str, Any]) -> list[dict[str, Any]]:
    """The node's ancestors the API lets this person see (an org-admin's stop at their root)."""

    async def shown(code: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await api.get(f"/iam/orgs/{quote(code, safe='')}")
        except Problem:
            return None  # above the person's reach: the API does not show it
        return found

    codes = [c for c in str(node.get("path", "")).split("/") if c][:-1]
    return [a for a in await asyncio.gather(*(shown(c) for c in codes)) if a is not None]


async def _children(api: ApiClient, node_id: str) -> list[dict[str, Any]]:
    return list((await api.get(f"/iam/orgs/{quote(node_id, safe='')}/children"))["items"])


class OrgTree(Page):
    """``/console/orgs``: the tree, the search, and the chosen node (``?node=`` id or code)."""

    roles = ROLES
    action_label = "Grant a role"

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        await self.show(view, req, resp, req.get_param("node") or "")

    async def show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        node_ref: str,
        *,
        error: Problem | None = None,
        form: dict[str, Any] | None = None,
    ) -> None:
        query = (req.get_param("q") or "").strip()[:100]
        first = req.get_param_as_int("first", min_value=0, default=0) or 0
        context: dict[str, Any] = {
            "node": None,
            "trail": [],
            "children": [],
            "members": [],
            "found_nodes": [],
            "found_people": [],
            "q": query,
            "first": first,
            "page_size": PAGE_SIZE,
            "error": error,
            "form": form or {},
            "done": DONE.get(req.get_param("done") or ""),
            "invitation": take_once(view, "invitation"),
            "child_kinds": (),
            "link_base": req.forwarded_prefix,
            "platform_roles": sorted(PLATFORM_ROLES),
            "grantable": grantable(view),
            "branches": {},
        }
        status = falcon.HTTP_200 if error is None else status_of(error)
        async with view.api() as api:
            context["roots"] = (await api.get("/iam/orgs"))["items"]
            if query:
                context["found_nodes"], context["found_people"] = await _search(api, query)
            if node_ref:
                try:
                    await self._node(api, node_ref, first, context)
                except Problem as problem:
                    context["error"] = problem
                    status = status_of(problem)
        self.console.render(req, resp, "orgs.html", view, status=status, **context)

    @staticmethod
    async def _node(api: ApiClient, ref: str, first: int, context: dict[str, Any]) -> None:
        node = await api.get(f"/iam/orgs/{quote(ref, safe='')}")
        node_id = str(node["id"])
        trail, children, members = await asyncio.gather(
            ancestors(api, node),
            _children(api, node_id),
            api.get(f"/iam/orgs/{node_id}/members", first=first, max=PAGE_SIZE),
        )
        # The tree opens down to the chosen node: each visible ancestor's branch, pre-loaded.
        above = await asyncio.gather(*(_children(api, str(a["id"])) for a in trail))
        context.update(
            node=node,
            trail=trail,
            children=children,
            members=members["items"],
            branches={node_id: children}
            | {str(a["id"]): k for a, k in zip(trail, above, strict=True)},
        )
        context["child_kinds"] = CHILD_KINDS.get(str(node["kind"]), ())

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        node_id = form.get("node_id", "")
        action = form.get("action", "")
        if action in _SENSITIVE:
            view.require_acr()  # a role grant: step up before the API is asked
        try:
            async with view.api() as api:
                done = await _change(view, api, action, node_id, form=form, req=req)
        except Problem as problem:
            await self.show(view, req, resp, node_id, error=problem, form=form)
            return
        target = (
            node_url(done[1] or node_id, done=done[0]) if done[1] or node_id else PREFIX + "/orgs"
        )
        raise falcon.HTTPSeeOther(target)


async def _change(
    view: View,
    api: ApiClient,
    action: str,
    node_id: str,
    *,
    form: dict[str, str],
    req: falcon.asgi.Request,
) -> tuple[str, str]:
    """Does the node action; (what is done, the node to show next)."""
    path = f"/iam/orgs/{quote(node_id, safe='')}"
    if action == "rename":
        await api.send("PATCH", path, {"name": form.get("name", "").strip()})
        return "renamed", node_id
    if action in {"disable", "enable"}:
        await api.send("PATCH", path, {"disabled": action == "disable"})
        return f"{action}d", node_id
    if action == "child":
        body = {
            "parent_id": node_id,
            "kind": form.get("kind", ""),
            "code": form.get("code", "").strip().upper(),
            "name": form.get("name", "").strip(),
        }
        child = await api.send("POST", "/iam/orgs", body)
        return "created", str(child["id"])
    if action == "invite":
        await _invite(view, api, node_id, form, req)
        return "invited", node_id
    if action == "bind":
        await _bind(api, node_id, form)
        return "bound", node_id
    raise falcon.HTTPBadRequest(title="Unknown action")


async def _invite(
    view: View, api: ApiClient, node_id: str, form: dict[str, str], req: falcon.asgi.Request
) -> None:
    body: dict[str, Any] = {
        "username": form.get("username", "").strip(),
        "family_name": form.get("family_name", "").strip(),
        "given_name": form.get("given_name", "").strip(),
        "memberships": [node_id],
    }
    if form.get("email", "").strip():
        body["email"] = form["email"].strip()
    if form.get("role"):
        body["role"] = form["role"]
        body["node_id"] = node_id
        view.require_acr()  # inviting with a role grants it
    invitation = await api.send("POST", "/iam/invitations", body)
    show_once(view, "invitation", **_link(invitation, req.forwarded_prefix))


def _link(invitation: dict[str, Any], base: str) -> dict[str, Any]:
    """The activation link as the browser reaches Anbao (the API saw the console's call)."""
    out = {
        "username": invitation.get("username", ""),
        "delivery": invitation.get("delivery", ""),
        "expires_at": invitation.get("expires_at"),
    }
    if invitation.get("activation_path"):
        out["url"] = base.rstrip("/") + str(invitation["activation_path"])
    return out


async def _bind(api: ApiClient, node_id: str, form: dict[str, str]) -> None:
    """Grant ``org-admin`` bound to this node to the person named (username or e-mail)."""
    who = form.get("person", "").strip()
    if not who:
        raise Problem(400, "about:blank", "Name the person", "", {})
    people = (await api.get("/iam/people", q=who, max=20))["items"]
    exact = [p for p in people if who in (p["username"], p["email"])]
    match = exact if len(exact) == 1 else people
    if len(match) != 1:
        raise Problem(404, "about:blank", "No such person", who, {})
    await api.send("PUT", f"/iam/people/{match[0]['id']}/roles/org-admin", {"node_id": node_id})


async def _search(api: ApiClient, query: str) -> tuple[list[Any], list[Any]]:
    """Nodes by code (what people know: 530102, a credit code) and people by name."""
    nodes: list[Any] = []
    if _CODE.fullmatch(query):
        with contextlib.suppress(Problem):  # no such node, or not this person's to see
            nodes.append(await api.get(f"/iam/orgs/{quote(query.upper(), safe='')}"))
    people = (await api.get("/iam/people", q=query, max=PAGE_SIZE))["items"]
    return nodes, people


class Children(Page):
    """``/console/orgs/{node_id}/children``: one branch of the tree, for htmx."""

    roles = ROLES

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        node_id = params["node_id"]
        if req.get_header("HX-Request") != "true":
            raise falcon.HTTPSeeOther(node_url(node_id))
        error = None
        items: list[Any] = []
        try:
            async with view.api() as api:
                items = (await api.get(f"/iam/orgs/{quote(node_id, safe='')}/children"))["items"]
        except Problem as problem:
            error = problem
        self.console.render(
            req, resp, "orgs_branch.html", view, items=items, error=error, current=""
        )
