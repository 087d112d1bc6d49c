"""One alert: its facts, triage, notes, linked evidence and response actions with four eyes.

Everything is the API's: ``GET /siem/alerts/{id}`` gives the alert, its audit links and its
actions; changes are ``PATCH`` (with ``If-Match``: a concurrent change is the API's 409, shown),
``POST …/notes``, ``POST /siem/actions`` and ``…/approve|reject``. Requesting, approving and
rejecting a response action are sensitive: the handler asks for step-up (acr 2, OTP) before the
API is called, and the person resumes the very action after Keycloak. Four eyes is the API's
rule (the requester cannot decide their own request); its refusal is shown here as it said it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import falcon
import falcon.asgi

from anbao.console.api import Problem
from anbao.console.pages.alerts.forms import (
    ACTION_KINDS,
    CLOSE_REASONS,
    DONE,
    NEXT_STATUSES,
    FormError,
    action_path,
    alert_path,
    audit_search_link,
    event_query,
    labeller,
    page_path,
    triage_change,
)
from anbao.console.pages.alerts.listing import ANALYST
from anbao.console.web import Page, View


class AlertDetail(Page):
    roles = ANALYST

    async def get(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        alert_id: str = "",
        **_: str,
    ) -> None:
        done = req.get_param("done") or ""
        message = view.tr.t(DONE[done]) if done in DONE else ""
        await self.show(view, req, resp, alert_id, message=message)

    async def show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        alert_id: str,
        *,
        message: str = "",
        problem: Problem | None = None,
        error: str = "",
        form: dict[str, str] | None = None,
        status: str = falcon.HTTP_200,
    ) -> None:
        """The page; after a refused change, with the API's problem and the person's input."""
        async with view.api() as api:
            alert = await api.get(alert_path(alert_id))
        links = alert.get("links", {})
        since, until = _span(links)
        self.console.render(
            req,
            resp,
            "alert.html",
            view,
            status=status,
            label=labeller(view.tr),
            alert=alert,
            actions=sorted(alert.get("actions", []), key=lambda a: a["requested_at"], reverse=True),
            evidence=[
                (event_id, audit_search_link(event_query(event_id), since, until))
                for event_id in links.get("event_ids", [])
            ],
            all_evidence=audit_search_link(links.get("audit_query", ""), since, until),
            next_statuses=NEXT_STATUSES.get(alert["status"], ()),
            reasons=CLOSE_REASONS,
            kinds=ACTION_KINDS,
            here=page_path(alert_id),
            message=message,
            problem=problem,
            error=error,
            form=form or {},
        )


def _span(links: dict[str, Any]) -> tuple[str, str]:
    """The evidence's time span from the API's audit search URL (``from``/``to``)."""
    query = parse_qs(urlsplit(str(links.get("audit_search_url", ""))).query)
    return query.get("from", [""])[0], query.get("to", [""])[0]


class _Change(AlertDetail):
    """A change of one alert: read the form, call the API, then back to the page (303) or the
    page again with the API's problem and the person's input kept."""

    async def post(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        alert_id: str = "",
        action_id: str = "",
        **_: str,
    ) -> None:
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        try:
            done = await self.change(view, alert_id, action_id, form)
        except FormError as bad:
            error = view.tr.t(bad.msgid, **bad.values)
            await self.show(
                view, req, resp, alert_id, error=error, form=form, status=falcon.HTTP_400
            )
            return
        except Problem as problem:
            status = falcon.code_to_http_status(problem.status)
            await self.show(view, req, resp, alert_id, problem=problem, form=form, status=status)
            return
        raise falcon.HTTPSeeOther(f"{page_path(alert_id)}?done={done}")

    async def change(self, view: View, alert_id: str, action_id: str, form: dict[str, str]) -> str:
        raise NotImplementedError


class Triage(_Change):
    """``POST …/triage``: a status change (closing with a reason) or a new assignee."""

    async def change(self, view: View, alert_id: str, action_id: str, form: dict[str, str]) -> str:
        if form.get("op") == "assign":
            assignee = form.get("assignee", "").strip()
            if not assignee:
                raise FormError("Enter whom to assign the alerts to.")
            body: dict[str, str] = {"assignee": assignee}
            done = "assigned"
        else:
            body = triage_change(form.get("status", ""), form.get("reason", ""))
            done = body["status"]
        headers = {"If-Match": f'"{form["version"]}"'} if form.get("version") else {}
        async with view.api() as api:
            await api.send("PATCH", alert_path(alert_id), body, headers=headers)
        return done


class AddNote(_Change):
    """``POST …/notes``: an append-only note (author and time are the API's)."""

    async def change(self, view: View, alert_id: str, action_id: str, form: dict[str, str]) -> str:
        text = form.get("text", "")
        if not text.strip():
            raise FormError("Write the note first.")
        async with view.api() as api:
            await api.send("POST", alert_path(alert_id, "notes"), {"text": text})
        return "note"


class RequestAction(_Change):
    """``POST …/actions``: ask for a response action (it waits for another analyst)."""

    action_label = "Request a response action"

    async def change(self, view: View, alert_id: str, action_id: str, form: dict[str, str]) -> str:
        kind = form.get("kind", "")
        if kind not in ACTION_KINDS:
            raise FormError("Choose a response action.")
        view.require_acr()
        body = {"alert_id": alert_id, "kind": kind, "target_field": form.get("target_field", "")}
        async with view.api() as api:
            await api.send("POST", "/siem/actions", body)
        return "requested"


class DecideAction(_Change):
    """``POST …/actions/{action_id}/decide``: approve (and so carry out) or reject with a reason."""

    action_label = "Approve or reject a response action"

    async def change(self, view: View, alert_id: str, action_id: str, form: dict[str, str]) -> str:
        decision = form.get("decision", "")
        reason = form.get("reason", "").strip()
        if decision not in ("approve", "reject"):
            raise FormError("Choose to approve or reject.")
        if decision == "reject" and not reason:
            raise FormError("Give the reason for rejecting.")
        view.require_acr()
        body = {"reason": reason} if decision == "reject" else None
        async with view.api() as api:
            await api.send("POST", action_path(action_id, decision), body)
        return "approved" if decision == "approve" else "rejected"


def detail_routes() -> list[tuple[str, type[AlertDetail]]]:
    """The alert's routes under ``/console/alerts/{alert_id}``."""
    base = "/console/alerts/{alert_id}"
    return [
        (base, AlertDetail),
        (base + "/triage", Triage),
        (base + "/notes", AddNote),
        (base + "/actions", RequestAction),
        (base + "/actions/{action_id}/decide", DecideAction),
    ]
