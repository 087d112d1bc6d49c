"""Cross-cutting request handling: request id, body limit, timing, metrics and the access log.

One middleware does all of it so each request pays for one pass, not five.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import falcon
import falcon.asgi

from anbao.logs import request_id_var
from anbao.metrics import Metrics

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
access_log = logging.getLogger("anbao.access")


class RequestContextMiddleware:
    def __init__(self, metrics: Metrics, *, max_body_bytes: int, access_log_enabled: bool) -> None:
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._access_log = access_log_enabled

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.started = time.perf_counter()
        offered = req.get_header("X-Request-ID")
        request_id = offered if offered and _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
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
        if self._access_log:
            principal = getattr(req.context, "principal", None)
            access_log.info(
                "%s %s %d",
                req.method,
                route,
                status,
                extra={
                    "http.request.method": req.method,
                    "url.path": req.path,
                    "http.response.status_code": status,
                    "event.duration_ms": round(elapsed * 1000, 3),
                    "client.address": req.remote_addr,
                    "user.id": getattr(principal, "subject", None),
                    "request_id": req.context.request_id,
                },
            )
