"""Cross-cutting request handling: request id, body limit, timing, metrics, access log and audit.

One middleware does all of it so each request pays for one pass, not five. It runs on every
request, so its per-request path is kept to dictionary look-ups, one clock read at each end and
list appends (``bench/http.py`` compares it with a bare Falcon app in the same run; figures in
docs/architecture.md, "Performance"):

* request headers are read from Falcon's header map directly: ``Request.get_header`` raises
  and catches a ``KeyError`` for every absent header, and a plain GET lacks three of those
  read here (request id, ``Content-Length``, ``Transfer-Encoding``); the body checks run only when a body header is present;
* generated request ids come from a per-process random prefix and a counter, formatted a batch
  at a time;
* the status code comes from a small cache keyed by ``resp.status`` (``Response.status_code``
  is a property over an LRU cache);
* metrics are integer increments; access-log lines are kept as raw tuples and formatted into
  JSON a batch at a time, in the served app by a writer process (:mod:`anbao.web.metrics`,
  :mod:`anbao.web.accesslog`);
* the request's audit record (:class:`audit.recording.middleware.RequestAuditor`) is captured from the
  facts read here for the metrics and the access log, rather than by a second middleware that
  reads them again; the response waits for it only when the fsync policy says so.

A liveness probe is the one request that needs none of Falcon: no body, no authentication, no
parameters, no access-log line, no audit. :meth:`RequestContextMiddleware.probe` answers it at
the ASGI edge (:class:`anbao.web.bodies.App`) with what this middleware would give it (the
request id, the metrics count), and declines a path the audit settings record.
"""

from __future__ import annotations

import itertools
import operator
import re
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from time import perf_counter_ns
from typing import Any

import falcon
import falcon.asgi

from anbao.logs import request_id_var
from anbao.web.accesslog import AccessLog
from anbao.web.metrics import Metrics
from audit.recording.middleware import RequestAuditor

# Offered ids are echoed and logged: a bounded, header- and log-safe alphabet only.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}").fullmatch
_set_request_id = request_id_var.set
_TAILS = tuple(f"{n:02x}" for n in range(256))


def request_ids(prefix: str | None = None) -> Iterator[str]:
    """Request ids: 16 random hex digits per process, then a 16-hex-digit counter (32 chars).

    Unique and cheap, and not a secret (ids are echoed to clients and written in logs). The
    counter's last two digits come from a table and the iteration runs in C (no generator
    frame to resume), so an id costs one string concatenation.
    """
    head = prefix if prefix is not None else secrets.token_hex(8)

    def block(number: int) -> Iterator[str]:
        return map(f"{head}{number:014x}".__add__, _TAILS)

    return itertools.chain.from_iterable(map(block, itertools.count()))


def _joined_headers(req: falcon.asgi.Request) -> Mapping[bytes, bytes]:
    """Falcon's header map rebuilt from the ASGI scope: lower-case names, repeats joined."""
    joined: dict[bytes, bytes] = {}
    for name, value in req.scope["headers"]:
        joined[name] = joined[name] + b"," + value if name in joined else value
    return joined


#: The request's headers as Falcon keeps them (lower-case byte names, repeats joined): its own
#: map, which ``get_header`` reads too (falcon is pinned in pyproject.toml); rebuilt from the
#: ASGI scope should a Falcon release drop it. A unit test checks that both agree.
header_map: Callable[[falcon.asgi.Request], Mapping[bytes, bytes]] = (
    operator.attrgetter("_asgi_headers")
    if "_asgi_headers" in getattr(falcon.asgi.Request, "__slots__", ())
    else _joined_headers
)


#: An answer given at the ASGI edge: (the scope's header pairs, ASGI ``send``).
ProbeAnswer = Callable[
    [list[Any], Callable[[MutableMapping[str, Any]], Awaitable[None]]], Awaitable[None]
]


# resp.status as set by the app (Falcon's default '200 OK', an int, an HTTPStatus) -> the code;
# what ``Response.status_code`` works out per call (a property and an LRU cache look-up).
_STATUS_CODES: dict[object, int] = {}
_MAX_STATUS_FORMS = 256


def _status_code(resp: falcon.asgi.Response) -> int:
    code = resp.status_code
    if len(_STATUS_CODES) < _MAX_STATUS_FORMS:
        _STATUS_CODES[resp.status] = code
    return code


class RequestContextMiddleware:
    def __init__(
        self,
        metrics: Metrics,
        *,
        max_body_bytes: int,
        access_log: AccessLog | None,
        request_auditor: RequestAuditor | None = None,
    ) -> None:
        self._record_metrics = metrics.record
        self._max_body = max_body_bytes
        self._access_log = access_log
        #: Audits each request (``audit.record_requests``) from this pass over the response.
        self._auditor = request_auditor
        self._next_id = request_ids().__next__

    def probe(self, path: str, body: bytes) -> ProbeAnswer | None:
        """``GET path`` answered ``200`` with the JSON ``body`` before Falcon, counted in the
        metrics like any request; ``None`` when the request audit records the path (then
        it goes through Falcon and this middleware)."""
        if self._auditor is not None and self._auditor.audits("GET", path):
            return None
        record, next_id = self._record_metrics, self._next_id
        fixed = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]
        done = {"type": "http.response.body", "body": body}

        async def answer(
            headers: list[Any], send: Callable[[MutableMapping[str, Any]], Awaitable[None]]
        ) -> None:
            started = perf_counter_ns()
            offered = None
            for name, value in headers:  # as header_map: a repeated header is joined, refused
                if name == b"x-request-id":
                    offered = value if offered is None else b","
            if offered is None or not _REQUEST_ID(offered):
                request_id = next_id()
            else:
                request_id = offered.decode("ascii")
            _set_request_id(request_id)
            start = {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-request-id", request_id.encode("ascii")), *fixed],
            }
            await send(start)
            await send(dict(done))
            record(path, "GET", 200, perf_counter_ns() - started)

        return answer

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        context = req.context
        context.started = perf_counter_ns()
        headers = header_map(req)
        offered = headers.get(b"x-request-id")
        if offered is None or not _REQUEST_ID(offered):
            request_id = self._next_id()
        else:
            request_id = offered.decode("ascii")
        context.request_id = request_id
        _set_request_id(request_id)
        resp.set_header("X-Request-ID", request_id)
        if b"content-length" in headers or b"transfer-encoding" in headers:
            self._check_body(req, headers)

    def _check_body(self, req: falcon.asgi.Request, headers: Mapping[bytes, bytes]) -> None:
        """413 above the limit; 411 for a chunked body (its size is unknown until read)."""
        length = req.content_length  # Falcon's parsing: 400 on a malformed value
        if length is not None and length > self._max_body:
            raise falcon.HTTPContentTooLarge(
                description=f"Request bodies are limited to {self._max_body} bytes."
            )
        if length is None and b"transfer-encoding" in headers:
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
        del req_succeeded
        ended = perf_counter_ns()
        context = req.context
        try:
            elapsed_ns: int | None = ended - context.started
        except AttributeError:  # an earlier middleware refused the request before ours ran
            elapsed_ns = None
        template = req.uri_template
        route = template or "unmatched"
        status = _STATUS_CODES.get(resp.status) or _status_code(resp)
        method = req.method
        self._record_metrics(route, method, status, elapsed_ns or 0)
        # A route whose path carries a secret (a one-time activation link) is logged and audited
        # by its template: the link must not be usable by whoever reads the logs.
        path = route if getattr(resource, "path_is_secret", False) else req.path
        auditor = self._auditor
        if auditor is not None and not auditor.audits(method, path):
            auditor = None
        # A probe (liveness, readiness) is counted in the metrics, not written to the access
        # log: a load balancer's probe every second would bury the requests people make.
        access_log = None if getattr(resource, "probe", False) else self._access_log
        if access_log is None and auditor is None:
            return
        # Falcon's remote_addr without its proxy-header parsing: the last hop of its access
        # route is always the ASGI client (uvicorn has already applied trusted proxies).
        client = req.scope.get("client")
        if type(client) is not tuple and type(client) is not list:
            # ASGI allows any iterable, even a forward-only one: let Falcon read and cache it.
            client = (req.remote_addr,) if client is not None else None
        address = client[0] if client else "127.0.0.1"
        principal = getattr(context, "principal", None)
        request_id = getattr(context, "request_id", None)
        if access_log is not None:
            access_log.record(
                ended,
                request_id,
                method,
                route,
                path,
                status,
                elapsed_ns or 0,
                address,
                None if principal is None else principal.subject,
            )
        if auditor is not None:
            await auditor.record(
                method,
                path,
                template or "",
                status,
                elapsed_ns,
                address,
                header_map(req).get(
                    b"user-agent"
                ),  # Falcon's user_agent: an absent header raises and is caught
                request_id or "",
                principal,
            )
