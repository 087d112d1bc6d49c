"""The overview: what needs attention, at a glance, for whoever signed in.

Each panel is shown only to those whose roles let the API answer its source (the same role
sets the API checks; the API decides again with the person's own token, and a refusal there
leaves the panel out rather than failing the page). Every panel is read through the API, all at
once, and drawn as an ECharts chart with its numbers as a table beside it for screen readers
and for anyone who wants the figures.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import falcon.asgi

from anbao.console import charts
from anbao.console.api import ApiClient, Problem
from anbao.console.web import PREFIX, Console, Page, View
from anbao.web.asgi_app import AsgiApp

#: Who may read each panel's source (the API's own role sets).
ALERT_READERS = frozenset({"security-analyst"})
AUDIT_READERS = frozenset({"security-analyst", "auditor"})
COMPLIANCE_READERS = frozenset({"compliance-officer", "auditor"})
SEAL_READERS = frozenset({"org-admin", "seal-admin", "seal-user"})
SEVERITIES = ("critical", "high", "medium", "low", "informational")
SEAL_STATES = ("applied", "approved", "made", "active", "suspended", "revoked", "expired")
STATUSES = ("pass", "fail", "manual", "waived", "not_applicable")


@dataclasses.dataclass(frozen=True, slots=True)
class Panel:
    """One panel: its chart (None when there is nothing to draw) and its table rows."""

    key: str
    title: str
    chart: charts.Chart | None
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    note: str = ""
    link: str = ""


class Overview(Page):
    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        async with view.api() as api:
            panels = await gather(view, api)
        self.console.render(
            req,
            resp,
            "overview.html",
            view,
            panels=panels,
            charted=any(p.chart for p in panels),
        )


async def gather(view: View, api: ApiClient) -> list[Panel]:
    """Every panel the person may see, read concurrently; a refused source is left out."""
    wanted: list[Callable[[View, ApiClient], Awaitable[Panel]]] = []
    if view.has(*ALERT_READERS):
        wanted.append(alerts)
    if view.has(*AUDIT_READERS):
        wanted.append(audit_volume)
    if view.has(*COMPLIANCE_READERS):
        wanted.append(compliance)
    if view.has(*SEAL_READERS):
        wanted.append(seals)
    wanted.append(health)
    answers = await asyncio.gather(*(f(view, api) for f in wanted), return_exceptions=True)
    out: list[Panel] = []
    for answer in answers:
        if isinstance(answer, Problem) and answer.status in (403, 404):
            continue
        if isinstance(answer, BaseException):
            raise answer
        out.append(answer)
    return out


async def alerts(view: View, api: ApiClient) -> Panel:
    tr = view.tr
    pages = await asyncio.gather(
        *(api.get("/siem/alerts", status="open", severity=s, limit=1) for s in SEVERITIES)
    )
    counts = [int(p["total"]) for p in pages]
    labels = [tr.t(s) for s in SEVERITIES]
    summary = tr.t(
        "Open alerts by severity: %(list)s.",
        list=tr.t(", ").join(
            f"{label} {tr.number(n)}" for label, n in zip(labels, counts, strict=True)
        ),
    )
    option = charts.bars(
        labels,
        counts,
        name=tr.t("Open alerts"),
        colours=[charts.SEVERITY_COLOURS[s] for s in SEVERITIES],
    )
    rows = [(label, tr.number(n)) for label, n in zip(labels, counts, strict=True)]
    return Panel(
        "alerts",
        "Open alerts by severity",
        charts.Chart("chart-alerts", option, summary),
        (tr.t("Severity"), tr.t("Open alerts")),
        rows,
        note=tr.t("%(n)s open in all", n=tr.number(sum(counts))),
        link="/console/alerts",
    )


async def audit_volume(view: View, api: ApiClient) -> Panel:
    tr = view.tr
    aggs = await api.get(
        "/audit/aggregations", **{"from": "now-7d", "to": "now"}, interval="6h", top=1
    )
    keys = [b["key"] for b in aggs["histogram"]]
    counts = [int(b["count"]) for b in aggs["histogram"]]
    labels = [tr.when(k, seconds=False)[:16] for k in keys]
    option = charts.histogram(labels, counts, name=tr.t("Audit events"))
    summary = tr.t(
        "Audit events in the last 7 days, per 6 hours: %(total)s in all, at most %(peak)s in one interval.",
        total=tr.number(sum(counts)),
        peak=tr.number(max(counts, default=0)),
    )
    rows = [(label, tr.number(n)) for label, n in zip(labels, counts, strict=True) if n]
    return Panel(
        "audit",
        "Audit volume, last 7 days",
        charts.Chart("chart-audit", option, summary) if counts else None,
        (tr.t("From"), tr.t("Audit events")),
        rows,
        note=tr.t("%(n)s events", n=tr.number(sum(counts))),
        link="/console/audit?range=7d",
    )


async def compliance(view: View, api: ApiClient) -> Panel:
    """The newest run's result per standard (framework), from its JSON report."""
    tr = view.tr
    runs = (await api.get("/compliance/runs"))["runs"]
    if not runs:
        return Panel("compliance", "Last compliance result", None, (), [], tr.t("No run yet."))
    run = runs[0]
    report = await api.get(f"/compliance/runs/{run['id']}/report.json")
    names, table = [], []
    per_status: dict[str, list[int]] = {s: [] for s in STATUSES}
    for standard in report["standards"]:
        controls = [c for section in standard["sections"] for c in section["controls"]]
        effective = [str(c.get("effective") or c["status"]) for c in controls]
        names.append(str(standard["standard"]))
        for status in STATUSES:
            per_status[status].append(effective.count(status))
        table.append(
            (str(standard["standard"]), *(tr.number(effective.count(s)) for s in STATUSES))
        )
    option = charts.stacked(
        names,
        [(tr.t(s), charts.STATUS_COLOURS[s], per_status[s]) for s in STATUSES],
    )
    summary = tr.t(
        "Last compliance run: %(list)s.",
        list=tr.t(", ").join(
            tr.t("%(std)s: %(passed)s passed, %(failed)s failed", std=n, passed=p, failed=f)
            for n, p, f in zip(names, per_status["pass"], per_status["fail"], strict=True)
        ),
    )
    return Panel(
        "compliance",
        "Last compliance result per framework",
        charts.Chart("chart-compliance", option, summary),
        (tr.t("Framework"), *(tr.t(s) for s in STATUSES)),
        table,
        note=tr.t("Run of %(when)s", when=tr.when(run["started_at"])),
        link="/console/compliance",
    )


async def seals(view: View, api: ApiClient) -> Panel:
    tr = view.tr
    listed = (await api.get("/seals"))["seals"]
    counts = dict.fromkeys(SEAL_STATES, 0)
    for seal in listed:
        counts[str(seal["state"])] = counts.get(str(seal["state"]), 0) + 1
    present = [(s, n) for s, n in counts.items() if n]
    items = [(tr.t(s), n, charts.colour_cycle(i)) for i, (s, n) in enumerate(present)]
    summary = tr.t(
        "Seals by state: %(list)s.",
        list=tr.t(", ").join(f"{tr.t(s)} {tr.number(n)}" for s, n in present) or tr.t("none"),
    )
    return Panel(
        "seals",
        "Seals by state",
        charts.Chart("chart-seals", charts.pie(items, name=tr.t("Seals")), summary)
        if items
        else None,
        (tr.t("State"), tr.t("Seals")),
        [(tr.t(s), tr.number(n)) for s, n in counts.items()],
        note=tr.t("%(n)s seals", n=tr.number(len(listed))),
        link="/console/seals",
    )


async def health(view: View, api: ApiClient) -> Panel:
    tr = view.tr
    try:
        report = (await api.call("GET", "/readyz")).json()
    except Problem as problem:  # 503: not ready, with the same per-dependency detail
        report = dict(problem.body)
    checks: dict[str, Any] = dict(report.get("checks") or {})
    names = list(checks)
    latency = [float(checks[n].get("latency_ms") or 0) for n in names]
    states = [str(checks[n].get("status", "down")) for n in names]
    option = charts.bars(
        [tr.t(n) for n in names],
        latency,
        name=tr.t("Latency (ms)"),
        colours=[charts.STATUS_COLOURS.get(s, "#5f6368") for s in states],
        unit="ms",
    )
    summary = tr.t(
        "Health: %(list)s.",
        list=tr.t(", ").join(f"{tr.t(n)} {tr.t(s)}" for n, s in zip(names, states, strict=True)),
    )
    rows = [
        (
            tr.t(n),
            tr.t(s),
            tr.number(ms),
            tr.t("required") if checks[n].get("required") else tr.t("optional"),
        )
        for n, s, ms in zip(names, states, latency, strict=True)
    ]
    ready = report.get("status") == "ready"
    return Panel(
        "health",
        "Health of Keycloak and the stores",
        charts.Chart("chart-health", option, summary) if names else None,
        (tr.t("Dependency"), tr.t("Status"), tr.t("Latency (ms)"), tr.t("Needed")),
        rows,
        note=tr.t("Ready") if ready else tr.t("Not ready"),
    )


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX, Overview(console))
    app.add_route(PREFIX + "/", Overview(console))
