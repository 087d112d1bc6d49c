"""Waivers: an officer asks to accept a failing control's risk until a time, with a reason;
another officer approves or rejects it (four eyes, the API's rule: requester and decider are the
users of verified tokens, never names typed into a form).

A decision is an approval, a sensitive act (issue 19 §2): the console asks for step-up first.
The expiry is typed as local time (Asia/Shanghai) and sent as RFC 3339 with its offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import falcon
import falcon.asgi

from anbao.console.api import Problem
from anbao.console.pages.compliance import present
from anbao.console.pages.compliance.common import (
    BASE,
    OFFICERS,
    READERS,
    context,
    plain_id,
    refuse_unless_officer,
)
from anbao.console.web import Page, View

#: The expiry the form suggests: a quarter, the usual review cycle of accepted risks.
DEFAULT_TERM = dt.timedelta(days=90)
DECISIONS = frozenset({"approve", "reject"})


class Waivers(Page):
    """``/console/compliance/waivers``: the list; officers request and decide."""

    roles = READERS

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        default = dt.datetime.fromtimestamp(self.console.clock(), dt.UTC) + DEFAULT_TERM
        values = {
            "control_id": req.get_param("control") or "",
            "justification": "",
            "expires": view.tr.control(default),
        }
        await self.show(view, req, resp, values=values)

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        if refuse_unless_officer(self.console, view, req, resp):
            return
        form = await view.form()
        values = {k: str(form.get(k, "")) for k in ("control_id", "justification", "expires")}
        try:
            expires_at = view.tr.typed(values["expires"])
        except ValueError:
            expires_at = ""
        if not expires_at:
            await self.show(view, req, resp, values=values, error=_local(view, "expires"))
            return
        body = {
            "control_id": values["control_id"],
            "justification": values["justification"],
            "expires_at": expires_at,
        }
        async with view.api() as api:
            try:
                await api.send("POST", "/compliance/waivers", body)
            except Problem as problem:
                await self.show(view, req, resp, values=values, error=problem)
                return
        raise falcon.HTTPSeeOther(f"{BASE}/waivers?done=requested")

    async def show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        *,
        values: dict[str, str],
        error: Problem | None = None,
    ) -> None:
        async with view.api() as api:
            waivers: list[dict[str, Any]] = (await api.get("/compliance/waivers"))["waivers"]
            runs = (await api.get("/compliance/runs"))["runs"]
            report = await api.get(f"/compliance/runs/{runs[0]['id']}/report.json") if runs else {}
        controls = {str(c["id"]): c for f in present.frameworks(report) for c in f.controls}
        done = req.get_param("done") or ""
        self.console.render(
            req,
            resp,
            "compliance_waivers.html",
            view,
            status=str(falcon.code_to_http_status(error.status)) if error else falcon.HTTP_200,
            waivers=sorted(waivers, key=lambda w: str(w["requested_at"]), reverse=True),
            controls=controls,
            values=values,
            error=error,
            done=done if done in {"requested", "approve", "reject"} else "",
            me=view.session.username,
            present=present,
            **context(view, BASE + "/waivers"),
        )


class Decide(Waivers):
    """``POST /console/compliance/waivers/{id}/approve|reject``, after step-up."""

    roles = OFFICERS
    action_label: ClassVar[str] = "Decide on a waiver"

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        raise falcon.HTTPSeeOther(BASE + "/waivers")

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        waiver_id, decision = params["waiver_id"], params["decision"]
        if decision not in DECISIONS or not plain_id(waiver_id):
            raise falcon.HTTPNotFound
        if refuse_unless_officer(self.console, view, req, resp):
            return
        view.require_acr()
        form = await view.form()
        body = {"reason": str(form.get("reason", ""))} if decision == "reject" else {}
        async with view.api() as api:
            try:
                await api.send("POST", f"/compliance/waivers/{waiver_id}/{decision}", body)
            except Problem as problem:
                values = {"control_id": "", "justification": "", "expires": ""}
                await self.show(view, req, resp, values=values, error=problem)
                return
        raise falcon.HTTPSeeOther(f"{BASE}/waivers?done={decision}")


def _local(view: View, field: str) -> Problem:
    """A mistake the console sees before asking the API, as the API would word it."""
    detail = view.tr.t("Give the expiry as a date and time.") if field == "expires" else ""
    return Problem(400, "about:blank", view.tr.t("Check the form"), detail, {"field": field})
