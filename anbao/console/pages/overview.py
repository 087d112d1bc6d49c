"""The overview: what needs attention, at a glance, for whoever signed in.

Each panel is shown only to those whose roles let them read its source, and each is read
through the API with the person's own token.
"""

from __future__ import annotations

from typing import Any

import falcon.asgi

from anbao.console.api import Problem
from anbao.console.web import PREFIX, Console, Page, View
from anbao.web.asgi_app import AsgiApp


class Overview(Page):
    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        async with view.api() as api:
            health = await _health(api)
        self.console.render(req, resp, "overview.html", view, health=health)


async def _health(api: Any) -> dict[str, Any]:
    try:
        answer = await api.call("GET", "/readyz")
    except Problem as problem:
        return dict(problem.body)
    return dict(answer.json())


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX, Overview(console))
    app.add_route(PREFIX + "/", Overview(console))
