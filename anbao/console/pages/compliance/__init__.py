"""The compliance officer's room (issue 19 §5): runs, the clause-by-clause table with evidence,
trends, waivers, sign-off after step-up, signed report downloads and their verification.

Compliance officers work here; auditors read the same views without the controls that change
anything (the API refuses them those acts anyway).
"""

from __future__ import annotations

from anbao.console.pages.compliance.common import BASE
from anbao.console.pages.compliance.reports import ReportDownload
from anbao.console.pages.compliance.runs import RunPage, Runs, SignOff, StartRun
from anbao.console.pages.compliance.waivers import Decide, Waivers
from anbao.console.web import Console
from anbao.web.asgi_app import AsgiApp


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(BASE, Runs(console))
    app.add_route(BASE + "/runs", StartRun(console))
    app.add_route(BASE + "/runs/{run_id}", RunPage(console))
    app.add_route(BASE + "/runs/{run_id}/signoff", SignOff(console))
    app.add_route(BASE + "/runs/{run_id}/report.{fmt}", ReportDownload(console))
    app.add_route(BASE + "/waivers", Waivers(console))
    app.add_route(BASE + "/waivers/{waiver_id}/{decision}", Decide(console))


__all__ = ["add_routes"]
