"""The audit search pages: search, event detail with its proof, saved searches, exports.

A folder because audit search is several pages with one state (``state``: the search as its
URL says it) shared by all of them.
"""

from __future__ import annotations

from anbao.console.pages.audit.event import AuditEvent
from anbao.console.pages.audit.saved import Export, SavedSearchDelete, SavedSearches
from anbao.console.pages.audit.search import AuditSearch
from anbao.console.web import PREFIX, Console
from anbao.web.asgi_app import AsgiApp


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX + "/audit", AuditSearch(console))
    app.add_route(PREFIX + "/audit/events/{event_id}", AuditEvent(console))
    app.add_route(PREFIX + "/audit/saved", SavedSearches(console))
    app.add_route(PREFIX + "/audit/saved/{search_id}/delete", SavedSearchDelete(console))
    app.add_route(PREFIX + "/audit/export", Export(console))


__all__ = [
    "AuditEvent",
    "AuditSearch",
    "Export",
    "SavedSearchDelete",
    "SavedSearches",
    "add_routes",
]
