"""Falcon (ASGI) middleware that records every request to Anbao's own API as an audit event.

Who (the verified principal, if any), what (method, route, path), outcome (HTTP status) and
latency, with source address, user agent and the request id as ``trace.id`` — the content
MLPS L3-CES1-13 asks of each audit record. The event is written to the durable spool before the
response leaves (an API action is never acknowledged without its audit record), but without
blocking the event loop: the spool write happens on the recorder's writer thread with group
commit, and the request coroutine only awaits it. If the spool refuses (full under the ``fail``
policy, or a disk error), the response becomes 503 ``audit_spool_full``/``audit_spool_error``.

The audit package does not import ``iam``: the principal is read by attribute name
(``subject``, ``username``, ``roles``, ``org_path``) from ``req.context.principal``.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from typing import Any

import falcon
import falcon.asgi

from audit.model import HttpInfo, Outcome, ResourceRef, UserInfo
from audit.recorder import Recorder

_FAILURE_FROM = 400
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


def _principal(req: falcon.asgi.Request) -> tuple[UserInfo, str]:
    principal: Any = getattr(req.context, "principal", None)
    if principal is None:
        return UserInfo(), ""
    roles = tuple(sorted(getattr(principal, "roles", ()) or ()))
    user = UserInfo(
        str(getattr(principal, "subject", "") or ""),
        str(getattr(principal, "username", "") or ""),
        roles,
    )
    org = str(getattr(principal, "org_path", "") or "")
    return user, org if org.startswith("/") else ""


def _ip(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


class AuditMiddleware:
    """Place it first in the middleware list so it sees every request, even refused ones."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        skip_paths: Iterable[str] = (),
        clock_ns: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self._recorder = recorder
        self._skip = frozenset(skip_paths)
        self._clock_ns = clock_ns

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        del resp
        req.context.audit_started_ns = self._clock_ns()

    async def process_response(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        req_succeeded: bool,
    ) -> None:
        del resource, req_succeeded
        if req.path in self._skip or req.method == "OPTIONS":
            return
        started = getattr(req.context, "audit_started_ns", None)
        duration = self._clock_ns() - started if started is not None else None
        status = int(resp.status_code)
        user, org = _principal(req)
        template = req.uri_template or ""
        event = self._recorder.event(
            f"api.{req.method.lower()}" if req.method in _METHODS else "api.other",
            Outcome.FAILURE if status >= _FAILURE_FROM else Outcome.SUCCESS,
            category=("web", "api"),
            type=("access",) if status < _FAILURE_FROM else ("access", "denied"),
            reason=f"HTTP {status}" if status >= _FAILURE_FROM else "",
            user=user,
            org_path=org,
            source_ip=_ip(req.remote_addr),
            user_agent=(req.user_agent or "")[:512],  # schema: text fields <= 4096 chars
            trace_id=str(getattr(req.context, "request_id", "") or "")[:128],
            http=HttpInfo(req.method[:32], req.path[:2048], status),
            resource=ResourceRef("route", template) if template else None,
            duration_ns=max(duration, 0) if duration is not None else None,
            stream="api",
            checked=False,  # every value above is bounded or validated here
        )
        await self._recorder.arecord_event(event)
