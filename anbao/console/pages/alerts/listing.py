"""The alert queue (Elastic Security's alerts table): filters, the list, bulk triage, and the
response actions waiting for a second analyst.

Filters are the API's own (status, severity, rule, assignee, entity, the last event's time);
typed times are the console's zone (``tr.typed``). Bulk acknowledge/close/assign is one
``PATCH /siem/alerts/{id}`` per selected alert — the API has no bulk route, and each change is
then authorised, validated (the status life cycle) and audited on its own; what one alert
refuses is listed with the API's reason while the others go through.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from anbao.console.api import ApiClient, Problem
from anbao.console.pages.alerts.forms import (
    BULK_DONE,
    CLOSE_REASONS,
    PAGE_SIZE,
    SEVERITIES,
    STATUSES,
    AlertQuery,
    FormError,
    alert_path,
    bulk_change,
    labeller,
    page_path,
    parse_query,
)
from anbao.console.web import Page, View, problem_text

ANALYST = frozenset({"security-analyst"})
#: Pending actions shown above the list (the four-eyes queue).
PENDING_SHOWN = 20


class AlertList(Page):
    roles = ANALYST

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        query = parse_query(req.params)
        done = req.get_param("done") or ""
        count = req.get_param_as_int("count", min_value=0) or 0
        message = ""
        if done in BULK_DONE and count:
            message = view.tr.t(BULK_DONE[done], count=count)
        await self.show(view, req, resp, query, message=message)

    async def show(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        query: AlertQuery,
        *,
        message: str = "",
        errors: list[str] | None = None,
        failures: list[tuple[str, str]] | None = None,
        status: str = falcon.HTTP_200,
    ) -> None:
        errors = list(errors or [])
        page: dict[str, Any] = {"total": 0, "alerts": []}
        pending: list[dict[str, Any]] = []
        async with view.api() as api:
            try:
                page = await api.get("/siem/alerts", **query.api_params(view.tr))
            except FormError as bad:
                errors.append(view.tr.t(bad.msgid, **bad.values))
            except Problem as problem:
                errors.append(problem_text(problem))
            pending = await _pending(api)
        self.console.render(
            req,
            resp,
            "alerts.html",
            view,
            status=status,
            label=labeller(view.tr),
            query=query,
            page=page,
            pending=pending,
            rules=_rules(page["alerts"], query.rule),
            statuses=STATUSES,
            severities=SEVERITIES,
            reasons=CLOSE_REASONS,
            page_size=PAGE_SIZE,
            page_path=page_path,
            message=message,
            errors=errors,
            failures=failures or [],
        )


class BulkTriage(AlertList):
    """``POST /console/alerts/bulk``: one change to every ticked alert."""

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        query = parse_query(req.params)  # the form's action keeps the list's filters
        ids = await _ticked(req)
        op = form.get("op", "")
        try:
            body = bulk_change(op, form.get("reason", ""), form.get("assignee", ""), len(ids))
        except FormError as bad:
            msg = view.tr.t(bad.msgid, **bad.values)
            await self.show(view, req, resp, query, errors=[msg], status=falcon.HTTP_400)
            return
        failures: list[tuple[str, str]] = []
        async with view.api() as api:
            for alert_id in ids:
                try:
                    await api.send("PATCH", alert_path(alert_id), body)
                except Problem as problem:
                    failures.append((alert_id, problem_text(problem)))
        changed = len(ids) - len(failures)
        if not failures:
            raise falcon.HTTPSeeOther(f"{query.link()}&done={op}&count={changed}")
        message = view.tr.t(BULK_DONE[op], count=changed)
        await self.show(
            view, req, resp, query, message=message, failures=failures, status=falcon.HTTP_409
        )


async def _pending(api: ApiClient) -> list[dict[str, Any]]:
    """Response actions waiting for a decision (a missing queue never hides the list)."""
    try:
        answer = await api.get("/siem/actions", state="pending", limit=PENDING_SHOWN)
    except Problem:
        return []
    return list(answer.get("actions", []))


def _rules(alerts: list[dict[str, Any]], chosen: str) -> list[tuple[str, str]]:
    """(rule id, title) choices: the rules of the listed alerts, and the one chosen."""
    rules = {a["rule"]["id"]: a["rule"]["title"] for a in alerts}
    if chosen and chosen not in rules:
        rules[chosen] = chosen
    return sorted(rules.items(), key=lambda item: item[1])


async def _ticked(req: falcon.asgi.Request) -> list[str]:
    """The ticked alerts: every ``id`` of the form (the console's form reader keeps one value
    per name; Falcon's parsed form keeps them all)."""
    media = await req.get_media()
    value = media.get("id") if isinstance(media, dict) else None
    ids = [value] if isinstance(value, str) else list(value or [])
    return list(dict.fromkeys(i for i in ids if i))
