"""The analysts' Alerts pages (``/console/alerts``): the queue with bulk triage, and each alert
with notes, evidence and four-eyes response actions."""

from __future__ import annotations

from anbao.console.pages.alerts.detail import detail_routes
from anbao.console.pages.alerts.listing import AlertList, BulkTriage
from anbao.console.web import PREFIX, Console
from anbao.web.asgi_app import AsgiApp


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX + "/alerts", AlertList(console))
    app.add_route(PREFIX + "/alerts/bulk", BulkTriage(console))
    for path, page in detail_routes():
        app.add_route(path, page(console))


__all__ = ["add_routes"]
