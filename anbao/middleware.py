"""Cross-cutting request handling: request id, body limit, timing, metrics and the access log.

One middleware does all of it so each request pays for one pass, not five.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import falcon
import falcon.asgi

from anbao.accesslog import AccessLog
from anbao.logs import request_id_var
from anbao.metrics import Metrics

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RequestContextMiddleware:
    def __init__(
        self, metrics: Metrics, *, max_body_bytes: int, access_log: AccessLog | None
    ) -> None:
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._access_log = access_log
        # Generated ids: a random per-process prefix and a counter — unique, cheap, and not a
        # secret (the id is echoed to clients and written in logs).
        prefix = secrets.token_hex(8)
        counter = itertools.count(1)
        self._next_id: Callable[[], str] = lambda: f"{prefix}{next(counter):016x}"

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.started = time.perf_counter()
        offered = req.get_header("X-Request-ID")
        request_id = offered if offered and _REQUEST_ID.fullmatch(offered) else self._next_id()
        req.context.request_id = request_id
        request_id_var.set(request_id)
        resp.set_header("X-Request-ID", request_id)
        length = req.content_length
        if length is not None and length > self._max_body:
            raise falcon.HTTPContentTooLarge(
                description=f"Request bodies are limited to {self._max_body} bytes."
            )
        if length is None and req.get_header("Transfer-Encoding"):
            raise falcon.HTTPLengthRequired(
                description="Send a Content-Length with the request body."
            )

    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: Any,
        req_succeeded: bool,
    ) -> None:
        del resource, req_succeeded
        started = getattr(req.context, "started", None)
        elapsed = time.perf_counter() - started if started is not None else 0.0
        route = req.uri_template or "unmatched"
        status = resp.status_code
        self._metrics.observe(route, req.method, str(status), elapsed)
        if self._access_log is not None:
            principal = getattr(req.context, "principal", None)
            self._access_log.write(
                request_id=req.context.request_id,
                method=req.method,
                route=route,
                path=req.path,
                status=status,
                duration_ms=elapsed * 1000,
                client=req.remote_addr,
                user_id=getattr(principal, "subject", None),
            )
