"""The edge's one-value-per-name query rule is for API clients; console pages read browser forms
(empty fields, a name per ticked checkbox) and opt out with ``own_parameters``."""

from __future__ import annotations

import falcon
import falcon.asgi
import falcon.testing

from anbao.web.path_params import PathParameterCheck


class _Api:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"ok": True}


class _ConsolePage(_Api):
    own_parameters = True


def _client() -> falcon.testing.TestClient:
    app = falcon.asgi.App(middleware=[PathParameterCheck()])
    app.add_route("/api", _Api())
    app.add_route("/page", _ConsolePage())
    return falcon.testing.TestClient(app)


def test_api_routes_refuse_repeated_and_empty_query_parameters() -> None:
    client = _client()
    assert client.simulate_get("/api", query_string="a=1&a=2").status_code == 400
    assert client.simulate_get("/api", query_string="a=").status_code == 400
    assert client.simulate_get("/api", query_string="a=1").status_code == 200


def test_console_pages_take_what_a_browser_form_sends() -> None:
    client = _client()
    answer = client.simulate_get("/page", query_string="status=open&status=closed&rule=")
    assert answer.status_code == 200
