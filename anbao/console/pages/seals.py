"""The seals page: apply for a seal, approve and make it, run its lifecycle, sign an OFD.

Everything goes through the seal registry's API (``/seals``…) with the person's own token, so
the registry decides who may do what (org-admin applies within their subtree; the seal admin
approves, not their own application, and makes; the holder signs after a step-up). The page
only offers the buttons a person's roles could use in a seal's state; pressing one the API
refuses shows the API's answer. Signing needs acr 2: the API's RFC 9470 challenge becomes the
round trip through Keycloak (``Page``), which keeps the uploaded OFD on the server and offers
the action again at ``/console/resume``; the answer is the signed OFD, as a download.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
from typing import Any, ClassVar
from urllib.parse import quote

import falcon
import falcon.asgi

from anbao.console.api import Problem
from anbao.console.web import PREFIX, Console, Page, Upload, View
from anbao.web.asgi_app import AsgiApp
from crypto.seals.format.errors import MalformedSeal
from crypto.seals.preview import render_seal

ROLES = frozenset({"seal-admin", "seal-user", "org-admin", "platform-admin"})
_MANAGERS = frozenset({"seal-admin", "org-admin"})
_LIVE = frozenset({"applied", "approved", "made", "active", "suspended"})


@dataclasses.dataclass(frozen=True, slots=True)
class Action:
    """A lifecycle action as the page offers it: from which states, to whom (the API decides
    again), and what its button and the resume page say (msgids)."""

    name: str
    states: frozenset[str]
    roles: frozenset[str]
    label: str
    pending: str
    danger: bool = False
    #: Asks for step-up (acr 2) before the API is called (issue 19: approvals, make, revoke).
    sensitive: bool = False


ACTIONS = (
    Action(
        "approve",
        frozenset({"applied"}),
        frozenset({"seal-admin"}),
        "Approve",
        "Approve a seal application",
        sensitive=True,
    ),
    Action(
        "make",
        frozenset({"approved"}),
        frozenset({"seal-admin"}),
        "Make",
        "Make a seal",
        sensitive=True,
    ),
    Action("activate", frozenset({"made"}), _MANAGERS, "Activate", "Activate a seal"),
    Action("suspend", frozenset({"active"}), _MANAGERS, "Suspend", "Suspend a seal"),
    Action("resume", frozenset({"suspended"}), _MANAGERS, "Resume", "Resume a seal"),
    Action("revoke", _LIVE, _MANAGERS, "Revoke", "Revoke a seal", danger=True, sensitive=True),
)
#: Revocation reasons the registry accepts (RFC 5280 §5.3.1 names), as the form offers them.
REVOKE_REASONS = ("cessation_of_operation", "key_compromise", "superseded", "affiliation_changed")
_PICTURE_TYPES = {"png": "PNG", "jpg": "JPG", "jpeg": "JPG", "svg": "SVG"}


def actions_for(view: View, seal: dict[str, Any]) -> list[Action]:
    """The actions whose buttons this person sees on this seal."""
    return [a for a in ACTIONS if seal.get("state") in a.states and view.roles & a.roles]


def may_sign(view: View, seal: dict[str, Any]) -> bool:
    return (
        seal.get("state") == "active"
        and view.has("seal-user")
        and view.session.username in (seal.get("holders") or ())
    )


class Seals(Page):
    """``/console/seals``: the list (the approval queue first, for the seal admin) and the
    application form (org-admin)."""

    roles = ROLES
    action_label = "Apply for a seal"

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        await self._show(view, req, resp)

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        form = await view.form()
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
        picture = form.get("picture")
        if not isinstance(picture, Upload) or not picture.data:
            await self._show(
                view,
                req,
                resp,
                values=values,
                error=view.tr.t("Choose the seal picture."),
                status=falcon.HTTP_400,
            )
            return
        try:
            async with view.api() as api:
                made = await api.send("POST", "/seals", application(values, picture))
        except Problem as problem:
            await self._show(
                view, req, resp, values=values, problem=problem, status=_status(problem)
            )
            return
        raise falcon.HTTPSeeOther(f"{PREFIX}/seals?done=apply&seal={quote(str(made['id']))}")

    async def _show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        *,
        status: str = falcon.HTTP_200,
        **context: Any,
    ) -> None:
        refused = None
        try:
            async with view.api() as api:
                seals = list((await api.get("/seals", state=req.get_param("state")))["seals"])
        except Problem as problem:  # the registry shows seals to its roles only (platform-admin)
            if problem.status != 403:  # noqa: PLR2004
                raise
            seals, refused = [], problem
        queue = (
            [s for s in seals if s["state"] in ("applied", "approved")]
            if view.has("seal-admin")
            else []
        )
        done = next((s for s in seals if s["id"] == req.get_param("seal")), None)
        context.setdefault("values", {"width_mm": "40", "height_mm": "40", "valid_days": "1095"})
        self.console.render(
            req,
            resp,
            "seals.html",
            view,
            status=status,
            seals=seals,
            queue=queue,
            done=done,
            done_action=req.get_param("done") or "",
            state=req.get_param("state") or "",
            states=("applied", "approved", "made", "active", "suspended", "revoked", "expired"),
            actions_for=lambda seal: actions_for(view, seal),
            may_sign=lambda seal: may_sign(view, seal),
            reasons=REVOKE_REASONS,
            refused=refused,
            **context,
        )


def application(values: dict[str, str], picture: Upload) -> dict[str, Any]:
    """The API's application body from the form (the API checks it: schema, USCC, picture)."""
    suffix = picture.filename.rsplit(".", 1)[-1].lower() if "." in picture.filename else ""
    return {
        "org_node": values.get("org_node", "").strip(),
        "org_name": values.get("org_name", "").strip(),
        "uscc": values.get("uscc", "").strip().upper(),
        "name": values.get("name", "").strip(),
        "holders": [
            h
            for h in values.get("holders", "").replace("\uff0c", ",").replace(",", " ").split()
            if h
        ],
        "picture": base64.b64encode(picture.data).decode(),
        "picture_type": _PICTURE_TYPES.get(suffix, ""),
        "width_mm": _number(values.get("width_mm", "")),
        "height_mm": _number(values.get("height_mm", "")),
        "valid_days": _number(values.get("valid_days", "")),
    }


def _number(text: str) -> int | str:
    """An integer when the text is one; else the text, for the API to refuse with its reason."""
    try:
        return int(text.strip())
    except ValueError:
        return text


def _status(problem: Problem) -> str:
    status: str = falcon.code_to_http_status(
        problem.status if 400 <= problem.status < 500 else 502  # noqa: PLR2004
    )
    return status


class SealDetail(Page):
    """``/console/seals/{seal_id}``: the seal, its picture, its actions, the signing form."""

    roles = ROLES

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        await show_seal(self.console, view, req, resp, params["seal_id"])


async def show_seal(
    console: Console,
    view: View,
    req: falcon.asgi.Request,
    resp: falcon.asgi.Response,
    seal_id: str,
    *,
    status: str = falcon.HTTP_200,
    **context: Any,
) -> None:
    async with view.api() as api:
        seal = dict(await api.get(f"/seals/{quote(seal_id, safe='')}"))
    console.render(
        req,
        resp,
        "seal.html",
        view,
        status=status,
        seal=seal,
        picture=await _picture(seal.get("seal")),
        actions=actions_for(view, seal),
        may_sign=may_sign(view, seal),
        reasons=REVOKE_REASONS,
        done_action=req.get_param("done") or "",
        done=seal if req.get_param("done") else None,
        **context,
    )


async def _picture(seal_b64: str | None) -> str:
    """The made seal's picture as an SVG data URI (drawn from the SESeal), or ""."""
    if not seal_b64:
        return ""
    try:
        svg: str = await asyncio.to_thread(render_seal, base64.b64decode(seal_b64))
    except (MalformedSeal, binascii.Error, ValueError):
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


class SealTransition(Page):
    """``POST /console/seals/{seal_id}/<action>``: one lifecycle step, then back to the seal."""

    roles = ROLES
    action: ClassVar[str] = ""
    sensitive: ClassVar[bool] = False

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        seal_id = params["seal_id"]
        if self.sensitive:
            view.require_acr()
        form = await view.form()
        body: dict[str, str] | None = None
        if self.action == "revoke":  # the only step with a body: its reason, if chosen
            body = {"reason": str(form["reason"])} if form.get("reason") else {}
        path = f"/seals/{quote(seal_id, safe='')}/{self.action}"
        try:
            async with view.api() as api:
                await api.send("POST", path, body)
        except Problem as problem:
            await show_seal(
                self.console, view, req, resp, seal_id, status=_status(problem), problem=problem
            )
            return
        back = form.get("back")
        target = f"{PREFIX}/seals?done={self.action}&seal={quote(seal_id)}"
        if back != "list":
            target = f"{PREFIX}/seals/{quote(seal_id)}?done={self.action}"
        raise falcon.HTTPSeeOther(target)


class SealSign(Page):
    """``POST /console/seals/{seal_id}/sign``: the OFD signed with the seal, as a download."""

    roles = ROLES
    action_label = "Sign an OFD document with the seal"

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        seal_id = params["seal_id"]
        view.require_acr()  # the API asks for it too (SIGN_ACR); here before the upload is sent
        form = await view.form()
        document = form.get("document")
        place = {
            k: str(form.get(k, "")).strip()
            for k in ("page", "x", "y")
            if str(form.get(k, "")).strip()
        }
        if not isinstance(document, Upload) or not document.data:
            message = view.tr.t("Choose the OFD document to sign.")
            await show_seal(
                self.console, view, req, resp, seal_id, status=falcon.HTTP_400, error=message
            )
            return
        try:
            async with view.api() as api:
                answer = await api.call(
                    "POST",
                    f"/seals/{quote(seal_id, safe='')}/sign",
                    content=document.data,
                    params=place,
                    headers={"Content-Type": "application/ofd"},
                )
        except Problem as problem:
            await show_seal(
                self.console, view, req, resp, seal_id, status=_status(problem), problem=problem
            )
            return
        resp.content_type = "application/ofd"
        resp.downloadable_as = signed_name(document.filename)
        resp.data = answer.content


def signed_name(filename: str) -> str:
    """``通知.ofd`` -> ``通知-signed.ofd`` (Falcon writes the RFC 6266 ``filename*`` form)."""
    stem = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = stem[:-4] if stem.lower().endswith(".ofd") else stem
    return f"{stem or 'document'}-signed.ofd"


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX + "/seals", Seals(console))
    app.add_route(PREFIX + "/seals/{seal_id}", SealDetail(console))
    app.add_route(PREFIX + "/seals/{seal_id}/sign", SealSign(console))
    for action in ACTIONS:
        kind = type(
            f"Seal{action.name.capitalize()}",
            (SealTransition,),
            {"action": action.name, "action_label": action.pending, "sensitive": action.sensitive},
        )
        app.add_route(f"{PREFIX}/seals/{{seal_id}}/{action.name}", kind(console))
