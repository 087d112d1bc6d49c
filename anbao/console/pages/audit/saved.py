"""Saved searches (create, delete) and exports (CSV, NDJSON) of the audit search page.

Saved searches are the API's (``/audit/saved-searches``: each person's own); the page saves
the query and the time range as the API takes them (a quick range as ``now-24h``, a custom one
as two instants) and reads them back into a search link.

An export is the API's stream (``/audit/export``) passed through the console as it comes
(:mod:`anbao.console.streaming`), with ``X-Total-Count`` from a one-event search first so the
page's progress can say how far along it is (exact up to 10,000 events, the API's count cap).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import falcon
import falcon.asgi

from anbao.console import streaming
from anbao.console.pages.audit import state as st
from anbao.console.pages.audit.search import ROLES
from anbao.console.web import Page, View

_FORMATS = frozenset({"csv", "ndjson"})


class SavedSearches(Page):
    """``POST /console/audit/saved``: save the search the form carries, back to it."""

    roles = ROLES
    action_label = "Save the search"

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        search = st.SearchState.read(form.get)
        time_from, time_to = search.window(self.console.zone)
        body = {
            "name": form.get("name", "").strip(),
            "q": search.q,
            "from": time_from or None,
            "to": time_to or ("now" if time_from and search.range != "custom" else None),
        }
        async with view.api() as api:
            await api.send("POST", "/audit/saved-searches", body)
        raise falcon.HTTPSeeOther(f"/console/audit?{search.query()}")


class SavedSearchDelete(Page):
    """``POST /console/audit/saved/{search_id}/delete``."""

    roles = ROLES
    action_label = "Delete the saved search"

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        form = {k: v for k, v in (await view.form()).items() if isinstance(v, str)}
        search_id = params.get("search_id", "")
        async with view.api() as api:
            await api.send("DELETE", f"/audit/saved-searches/{quote(search_id, safe='')}")
        back = form.get("back", "")
        raise falcon.HTTPSeeOther("/console/audit" + (f"?{back}" if back else ""))


class Export(Page):
    """``GET /console/audit/export?format=csv|ndjson&q=…``: the API's export, streamed."""

    roles = ROLES

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        fmt = req.get_param("format") or "csv"
        if fmt not in _FORMATS:
            raise falcon.HTTPBadRequest(title=view.tr.t("Export as CSV or NDJSON."))
        search = st.SearchState.read(req.get_param)
        params = search.filter_params(self.console.zone)
        params["sort"] = search.api_params(self.console.zone)["sort"]
        async with view.api() as api:
            count = await api.get(
                "/audit/events", **search.filter_params(self.console.zone), size=1
            )
        total = count["total"]
        opened = streaming.stream(
            self.console.app,
            view.session.access_token,
            (req.remote_addr or "127.0.0.1", 0),
            "/audit/export",
            params | {"format": fmt},
        )
        answer = await opened.__aenter__()
        resp.content_type = answer.headers.get("content-type", "application/octet-stream")
        name = f"anbao-audit-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.{fmt}"
        resp.set_header("Content-Disposition", f'attachment; filename="{name}"')
        if total["relation"] == "eq":
            resp.set_header("X-Total-Count", str(total["value"]))
        resp.stream = _relay(answer.body, opened)


async def _relay(body: AsyncIterator[bytes], opened: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in body:
            yield chunk
    finally:
        await opened.__aexit__(None, None, None)
