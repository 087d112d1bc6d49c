"""Falcon (ASGI) middleware that records every request to Anbao's own API as an audit event.

Who (the verified principal, if any), what (method, route, path), outcome (HTTP status) and
latency, with source address, user agent and the request id as ``trace.id`` — the content
MLPS L3-CES1-13 asks of each audit record. The record is written to the durable spool before the
response leaves (an API action is never acknowledged without its audit record), but without
blocking the event loop: group commit per loop iteration, fsync on the recorder's thread. If the
spool refuses (full under the ``fail`` policy, or a disk error), the response becomes 503
``audit_spool_full``/``audit_spool_error``.

On the request path the middleware only fills a small typed record
(:class:`audit.recording.request_record.RequestRecord`); the canonical event is built when the
shipper reads the spool.

The audit package does not import ``iam``: the principal is read by attribute name
(``subject``, ``username``, ``roles``, ``org_path``) from ``req.context.principal``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import falcon
import falcon.asgi

from audit.recording.recorder import Recorder
from audit.recording.request_record import record_from_principal


class RequestAuditor:
    """Captures one request's audit record: the part both ways of hooking it in share.

    :class:`AuditMiddleware` calls its :meth:`record` from its own ``process_response``; a host
    app whose own middleware already reads the request's route, status, client and principal
    (Anbao's :class:`anbao.web.middleware.RequestContextMiddleware`) calls it from there instead,
    saving a middleware hop and reading each fact once. :meth:`record` returns an awaitable that
    resolves once the record is in the spool per its fsync policy.
    """

    def __init__(
        self,
        recorder: Recorder,
        *,
        skip_paths: Iterable[str] = (),
        service: str | None = None,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._recorder = recorder
        self._skip = frozenset(skip_paths)
        self._service = recorder.service if service is None else service
        self._wall_clock_ns = wall_clock_ns
        self._record = recorder.record_request

    def audits(self, method: str, path: str) -> bool:
        """Whether a request is audited (not a skipped path, not a CORS preflight)."""
        return method != "OPTIONS" and path not in self._skip

    def record(  # noqa: PLR0917 - one positional call per request, the hot path
        self,
        method: str,
        path: str,
        route: str,
        status: int,
        duration_ns: int | None,
        client: str,
        user_agent: str | bytes | None,
        trace_id: str,
        principal: Any,
    ) -> Awaitable[object]:
        """``user_agent`` may be the raw header value (bytes, read as Latin-1 as ASGI does)."""
        return self._record(
            record_from_principal(
                self._service, self._wall_clock_ns() // 1000, method, path, route, status,
                duration_ns, client, user_agent or "", trace_id, principal,
            )
        )  # fmt: skip


class AuditMiddleware:
    """Place it first in the middleware list so it sees every request, even refused ones.

    It has no ``process_request`` (one awaited hook less per request): the latency is measured
    from ``req.context.<started_attribute>``, a ``time.perf_counter_ns()`` value the host app's
    first ``process_request`` sets (in Anbao, :class:`anbao.web.middleware.RequestContextMiddleware`).
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
        self.auditor = RequestAuditor(
            recorder, skip_paths=skip_paths, service=service, wall_clock_ns=wall_clock_ns
        )
        self._started = started_attribute
        self._clock_ns = clock_ns

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
        if not self.auditor.audits(method, path):
            return
        context = req.context
        started = getattr(context, self._started, None)
        await self.auditor.record(
            method,
            path,
            req.uri_template or "",
            int(resp.status_code),
            self._clock_ns() - started if started is not None else None,
            req.remote_addr or "",
            req.user_agent or "",
            str(getattr(context, "request_id", "") or ""),
            getattr(context, "principal", None),
        )
