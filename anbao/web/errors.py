"""Every error leaves the API as RFC 9457 ``application/problem+json``.

Domain packages raise their own errors (a stable ``code``, a ``title``, a client-safe ``detail``)
and know nothing of HTTP. Each error class gets its status and headers here and one handler
registered for it with Falcon's ``add_error_handler``; Falcon picks the handler of the nearest
class in the exception's MRO, so a subclass with no entry of its own answers as its base does
and the entries need no order. Falcon's own errors (400/404/405/413/415…) go through the same
serializer, and anything unexpected becomes a 500 that carries only the request id — the
details go to the log, never to the client.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import falcon
import falcon.asgi
import falcon.media

from anbao.web.asgi_app import AsgiApp
from anbao.web.bodies import InvalidBody
from audit.errors import (
    AuditError,
    AuditSpoolError,
    AuditSpoolFull,
    AuditStoreUnavailable,
)
from audit.integrity.model import EventNotLogged, HeadNotFound
from audit.search.model import SavedSearchNotFound, SearchForbidden
from audit.sensitive.service import AuditEventNotFound
from crypto import strict_json
from crypto.errors import CryptoError, InvalidSignature, MalformedInput
from crypto.keystore import KeyStoreError
from crypto.seals.ca import SealCaError
from crypto.seals.registry.errors import (
    SealApplicationInvalid,
    SealDatabaseError,
    SealForbidden,
    SealNotFound,
    SealStateConflict,
    SealStepUpRequired,
    SealUseRefused,
)
from crypto.seals.tsa.authority import TimestampError
from iam.errors import (
    Conflict,
    Forbidden,
    IamError,
    IdentityProviderUnavailable,
    InsufficientAuthentication,
    NotFound,
    Unauthenticated,
)
from iam.orgs.errors import ImportInvalid, OrgConflict, OrgNotFound
from iam.tokens.falcon import challenge
from policies.errors import (
    AlreadySigned,
    FontUnavailable,
    InvalidRequest,
    NotSignedOff,
    PolicyError,
    ReportSignatureInvalid,
    RunNotFound,
    SigningUnavailable,
    StoreUnavailable,
    WaiverNotFound,
    WaiverSelfApproval,
    WaiverStateConflict,
)
from siem.alerts.errors import (
    ActionNotFound,
    ActionStateConflict,
    AlertError,
    AlertNotFound,
    AlertStoreUnavailable,
    AlertVersionConflict,
    InvalidAlertInput,
    InvalidTransition,
    ResponseTargetNotFound,
    ResponseTargetUnavailable,
    SelfApproval,
    TriageForbidden,
)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:anbao:problem:"

log = logging.getLogger("anbao.errors")


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """How one error class leaves the API: its status and any headers it needs."""

    status: int
    headers: Callable[[Exception], dict[str, str]] | None = None


def _bearer_challenge(exc: Exception) -> dict[str, str]:
    """RFC 6750 §3 and RFC 9470 §3: tell the client what is wrong and what ``acr`` it needs."""
    return {"WWW-Authenticate": challenge(exc)}


#: The status of each domain error class; a class without an entry answers as its nearest base
#: (Falcon resolves handlers by MRO). The problem ``type`` is the exception's own ``code``.
PROBLEMS: dict[type[Exception], Problem] = {
    InvalidBody: Problem(400),
    InsufficientAuthentication: Problem(401, _bearer_challenge),
    Unauthenticated: Problem(401, _bearer_challenge),
    Forbidden: Problem(403),
    IdentityProviderUnavailable: Problem(503),
    OrgNotFound: Problem(404),
    OrgConflict: Problem(409),
    ImportInvalid: Problem(422),
    NotFound: Problem(404),
    Conflict: Problem(409),
    IamError: Problem(400),
    AuditStoreUnavailable: Problem(503),
    AuditSpoolFull: Problem(503),
    AuditSpoolError: Problem(503),
    AuditEventNotFound: Problem(404),
    SearchForbidden: Problem(403),
    SavedSearchNotFound: Problem(404),
    HeadNotFound: Problem(404),
    EventNotLogged: Problem(409),
    AuditError: Problem(400),
    SealStepUpRequired: Problem(401, _bearer_challenge),
    SealNotFound: Problem(404),
    SealForbidden: Problem(403),
    SealStateConflict: Problem(409),
    SealUseRefused: Problem(409),
    SealApplicationInvalid: Problem(400),
    SealDatabaseError: Problem(503),
    SealCaError: Problem(503),
    KeyStoreError: Problem(503),
    TimestampError: Problem(400),
    InvalidSignature: Problem(422),
    MalformedInput: Problem(400),
    CryptoError: Problem(422),
    AlertNotFound: Problem(404),
    ActionNotFound: Problem(404),
    ResponseTargetNotFound: Problem(404),
    InvalidAlertInput: Problem(400),
    InvalidTransition: Problem(409),
    AlertVersionConflict: Problem(409),
    ActionStateConflict: Problem(409),
    SelfApproval: Problem(403),
    TriageForbidden: Problem(403),
    AlertStoreUnavailable: Problem(503),
    ResponseTargetUnavailable: Problem(503),
    AlertError: Problem(400),
    RunNotFound: Problem(404),
    WaiverNotFound: Problem(404),
    WaiverSelfApproval: Problem(403),
    WaiverStateConflict: Problem(409),
    InvalidRequest: Problem(400),
    AlreadySigned: Problem(409),
    NotSignedOff: Problem(409),
    ReportSignatureInvalid: Problem(422),
    SigningUnavailable: Problem(503),
    FontUnavailable: Problem(503),
    StoreUnavailable: Problem(503),
    PolicyError: Problem(500),
}

#: Stable problem types for Falcon's own errors, by status.
_FALCON_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_content",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def problem_type(code: str) -> str:
    return TYPE_PREFIX + code


def write_problem(
    req: falcon.Request,
    resp: falcon.Response,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    body: dict[str, Any] = {"type": problem_type(code), "title": title, "status": status}
    if detail and detail != title:
        body["detail"] = detail
    request_id = getattr(req.context, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    resp.status = status
    resp.content_type = PROBLEM_JSON
    resp.text = json.dumps(body, ensure_ascii=False)


def serialize_http_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    """Falcon's serializer hook: its own HTTP errors become problem documents too."""
    status = exc.status_code
    code = getattr(exc, "code", None) or _FALCON_CODES.get(status, f"http_{status}")
    # Falcon's titles read "404 Not Found"; the status is already a member of the problem.
    title = (exc.title or falcon.code_to_http_status(status)).removeprefix(f"{status} ")
    write_problem(req, resp, status=status, code=str(code), title=title, detail=exc.description)


ErrorHandler = Callable[
    [falcon.asgi.Request, falcon.asgi.Response, Exception, dict[str, Any]], Awaitable[None]
]


def problem_handler(problem: Problem) -> ErrorHandler:
    """The handler of one domain error class: its problem document, status and headers."""

    async def handle(
        req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Exception, params: dict[str, Any]
    ) -> None:
        del params
        write_problem(
            req,
            resp,
            status=problem.status,
            code=str(getattr(exc, "code", "error")),
            title=str(getattr(exc, "title", "Error")),
            detail=getattr(exc, "detail", None),
            extra=getattr(exc, "problem_extra", None),
        )
        if problem.headers is not None:
            resp.set_headers(problem.headers(exc))

    return handle


async def handle_unexpected(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Exception, params: dict[str, Any]
) -> None:
    """Any other exception: an opaque 500 with the request id; the details go to the log."""
    del params
    log.error(
        "unhandled exception",
        exc_info=exc,
        extra={"request_id": getattr(req.context, "request_id", None)},
    )
    write_problem(
        req,
        resp,
        status=500,
        code="internal_error",
        title="Internal Server Error",
        detail="The server failed to handle the request; quote the request id when reporting.",
    )


def install(app: AsgiApp) -> None:
    """The JSON media handler, the problem serializer and one error handler per class."""
    # Every JSON body is read as I-JSON with bounded nesting: a hostile body is a 400
    # (Falcon's MediaMalformedError), never a RecursionError or a string that cannot be written.
    json_handler = falcon.media.JSONHandler(loads=strict_json.loads)
    app.req_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    app.set_error_serializer(serialize_http_error)
    # Falcon's own handlers for HTTPError and HTTPStatus are more specific than Exception and
    # keep using the serializer above.
    app.add_error_handler(Exception, handle_unexpected)
    for cls, problem in PROBLEMS.items():
        app.add_error_handler(cls, problem_handler(problem))
