"""Falcon (ASGI) middleware that records every request to Anbao's own API as an audit event.

Who (the verified principal, if any), what (method, route, path), outcome (HTTP status) and
latency, with source address, user agent and the request id as ``trace.id`` — the content
MLPS L3-CES1-13 asks of each audit record. The event is written to the durable spool before the
response leaves (an API action is never acknowledged without its audit record), but without
blocking the event loop: group commit per loop iteration, fsync on the recorder's thread. If the
spool refuses (full under the ``fail`` policy, or a disk error), the response becomes 503
``audit_spool_full``/``audit_spool_error``.

On the request path only the raw facts are captured, in the compact form of
:mod:`audit.request_record`; the canonical event is built when the shipper reads the spool.

The audit package does not import ``iam``: the principal is read by attribute name
(``subject``, ``username``, ``roles``, ``org_path``) from ``req.context.principal``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import falcon
import falcon.asgi

from audit import request_record
from audit.recorder import Recorder


class AuditMiddleware:
    """Place it first in the middleware list so it sees every request, even refused ones.

    It has no ``process_request`` (one awaited hook less per request): the latency is measured
    from ``req.context.<started_attribute>``, a ``time.perf_counter_ns()`` value the host app's
    first ``process_request`` sets (in Anbao, :class:`anbao.middleware.RequestContextMiddleware`).
    Without it the event carries no duration.
    """

    def __init__(
        self,
        recorder: Recorder,
        *,
        skip_paths: Iterable[str] = (),
        service: str | None = None,
        started_attribute: str = "started",
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._recorder = recorder
        self._skip = frozenset(skip_paths)
        self._service = recorder.service if service is None else service
        self._started = started_attribute
        self._clock_ns = clock_ns
        self._wall_clock_ns = wall_clock_ns

    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        del resource, req_succeeded
        path = req.path
        method = req.method
        if path in self._skip or method == "OPTIONS":
            return
        context = req.context
        started = getattr(context, self._started, None)
        principal: Any = getattr(context, "principal", None)
        if principal is None:
            subject = username = org = ""
            roles: list[str] = []
        else:
            subject = str(getattr(principal, "subject", "") or "")
            username = str(getattr(principal, "username", "") or "")
            roles = [str(r) for r in getattr(principal, "roles", ()) or ()]
            org = str(getattr(principal, "org_path", "") or "")
        payload = request_record.encode(
            service=self._service,
            time_us=self._wall_clock_ns() // 1000,
            method=method,
            path=path,
            status=int(resp.status_code),
            route=req.uri_template or "",
            duration_ns=self._clock_ns() - started if started is not None else None,
            client=req.remote_addr or "",
            user_agent=req.user_agent or "",
            trace_id=str(getattr(context, "request_id", "") or ""),
            subject=subject,
            username=username,
            roles=roles,
            org_path=org,
        )
        await self._recorder.arecord_compact(request_record.STREAM, payload)
