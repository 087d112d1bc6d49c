"""Reference apps for bench/http.py: a bare Falcon hello world, ASGI and WSGI."""

from __future__ import annotations

import falcon
import falcon.asgi


class _Hello:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.text = '{"status":"ok"}'


class _HelloSync:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.text = '{"status":"ok"}'


asgi = falcon.asgi.App()
asgi.add_route("/healthz", _Hello())

wsgi = falcon.App()
wsgi.add_route("/healthz", _HelloSync())
