"""What the compliance pages share: who may do what, and the tabs between the views.

Readers (compliance officers and auditors) see runs, clause tables, trends, waivers and
reports; only officers start runs, request and decide waivers and sign off: the same split as
the API's ``/compliance`` routes, which decide again with the person's own token.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from anbao.console.web import PREFIX, Console, View

READERS = frozenset({"compliance-officer", "auditor"})
OFFICERS = frozenset({"compliance-officer"})
BASE = PREFIX + "/compliance"
#: The compliance views, as tabs (path, msgid).
TABS = (
    (BASE, "Runs and trends"),
    (BASE + "/waivers", "Waivers"),
)


def is_officer(view: View) -> bool:
    return bool(view.roles & OFFICERS)


def refuse_unless_officer(
    console: Console, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response
) -> bool:
    """Answer 403 (the console's page) unless the person is a compliance officer: the console
    refuses what the API would, before asking it. True when refused."""
    if is_officer(view):
        return False
    console.render(req, resp, "forbidden.html", view, status=falcon.HTTP_403)
    return True


def plain_id(identifier: str) -> bool:
    """An id as the API gives them (letters, digits, ``-``, ``_``): nothing that could change
    the API path the console builds from it."""
    return bool(identifier) and all(ch.isalnum() or ch in "-_" for ch in identifier)


def context(view: View, tab: str) -> dict[str, Any]:
    """Template values every compliance view uses."""
    return {"tabs": TABS, "tab": tab, "officer": is_officer(view), "base": BASE}
