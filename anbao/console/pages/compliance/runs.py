"""Compliance runs: the list with each framework's rate and the trend, one run's clause table,
starting a run and signing one off.

Everything comes from the API with the person's token: the runs list (``/compliance/runs``)
and each run's ``report.json``, the same content the signed PDF renders, so the console shows
what the report says. Signing off is a sensitive act (issue 19 §2): the console asks for
step-up (acr 2) before calling the API and offers the act again on the resume page.
"""

from __future__ import annotations

from typing import Any, ClassVar

import falcon
import falcon.asgi

from anbao.console.api import ApiClient, Problem
from anbao.console.pages.compliance import present, reports
from anbao.console.pages.compliance.common import (
    BASE,
    OFFICERS,
    READERS,
    context,
    plain_id,
    refuse_unless_officer,
)
from anbao.console.web import Page, View

#: The run page's status filter: its value -> the effective statuses shown (``all``: every one;
#: the API edge refuses an empty query parameter, so "all" is a word, not an empty value).
STATUS_FILTERS = {
    "all": None,
    "open": frozenset({"fail", "waived"}),
    "fail": frozenset({"fail"}),
    "pass": frozenset({"pass"}),
    "manual": frozenset({"manual"}),
}


class Runs(Page):
    """``/console/compliance``: start a run, the runs with their rates, the trend chart."""

    roles = READERS

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
        status: str = falcon.HTTP_200,
    ) -> None:
        async with view.api() as api:
            runs: list[dict[str, Any]] = (await api.get("/compliance/runs"))["runs"]
            report = await _report(api, str(runs[0]["id"])) if runs else {}
        found = present.frameworks(report)
        rows = present.trend(report, runs)
        self.console.render(
            req,
            resp,
            "compliance.html",
            view,
            status=status,
            runs=runs,
            frameworks=found,
            trend=rows,
            rates={row.run_id: row.rates for row in rows},
            option=present.chart_option(rows, found, view.tr, view.tr.locale),
            present=present,
            error=error,
            **context(view, BASE),
        )


class StartRun(Runs):
    """``POST /console/compliance/runs``: run the catalogue now (every framework: the API runs
    the whole catalogue), then open the run at the framework the officer chose."""

    roles = OFFICERS

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        raise falcon.HTTPSeeOther(BASE)

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        form = await view.form()
        framework = str(form.get("framework", ""))
        async with view.api() as api:
            try:
                run = await api.send("POST", "/compliance/runs")
            except Problem as problem:
                await self.show(view, req, resp, error=problem, status=_status(problem))
                return
        params = {"framework": framework} if framework else {}
        query = falcon.to_query_str({**params, "started": "1"}, prefix=True)
        raise falcon.HTTPSeeOther(f"{BASE}/runs/{run['id']}{query}")


class RunPage(Page):
    """``/console/compliance/runs/{id}``: the clause-by-clause table, reports, sign-off."""

    roles = READERS

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        await show_run(self, view, req, resp, params["run_id"])


async def show_run(
    page: Page,
    view: View,
    req: falcon.asgi.Request,
    resp: falcon.asgi.Response,
    run_id: str,
    *,
    error: Problem | None = None,
    comment: str = "",
) -> None:
    if not plain_id(run_id):
        raise falcon.HTTPNotFound
    async with view.api() as api:
        report = await _report(api, run_id)
        run = report.get("run") or {}
        verification = await reports.verify(api, run_id) if run.get("signoff") else None
    found = present.frameworks(report)
    chosen = req.get_param("framework") or ""
    shown = [f for f in found if f.code == chosen] or found
    status = req.get_param("status") or ""
    keep = STATUS_FILTERS.get(status)
    page.console.render(
        req,
        resp,
        "compliance_run.html",
        view,
        status=_status(error) if error else falcon.HTTP_200,
        run=run,
        frameworks=found,
        shown=shown,
        chosen=chosen if len(shown) == 1 and len(found) > 1 else "",
        status_filter=status if keep else "",
        keep=keep,
        rate=present.rate(run.get("counts") or {}),
        assessment=report.get("assessment") or {},
        verification=verification,
        present=present,
        error=error,
        comment=comment,
        started=req.get_param("started") == "1",
        signed=req.get_param("signed") == "1",
        **context(view, BASE),
    )


class SignOff(Page):
    """``POST /console/compliance/runs/{id}/signoff``: after step-up, the API signs the report."""

    roles = OFFICERS
    action_label: ClassVar[str] = "Sign off the compliance run"

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        if refuse_unless_officer(self.console, view, req, resp):
            return
        run_id = params["run_id"]
        view.require_acr()
        form = await view.form()
        comment = str(form.get("comment", "")).strip()
        async with view.api() as api:
            try:
                await api.send("POST", f"/compliance/runs/{run_id}/signoff", {"comment": comment})
            except Problem as problem:
                await show_run(self, view, req, resp, run_id, error=problem, comment=comment)
                return
        raise falcon.HTTPSeeOther(f"{BASE}/runs/{run_id}?signed=1#signature")


async def _report(api: ApiClient, run_id: str) -> dict[str, Any]:
    report: dict[str, Any] = await api.get(f"/compliance/runs/{run_id}/report.json")
    return report


def _status(problem: Problem | None) -> str:
    code = problem.status if problem and 400 <= problem.status < 600 else 502  # noqa: PLR2004
    return str(falcon.code_to_http_status(code))
