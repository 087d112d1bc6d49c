"""The error table: every error leaves the API as RFC 9457 ``application/problem+json``.

Domain packages raise their own errors (a stable ``code``, a ``title``, a client-safe ``detail``)
and know nothing of HTTP. This one table maps them to a status and headers; Falcon's own errors
(400/404/405/413/415…) go through the same serializer, and anything unexpected becomes a 500
that carries only the request id — the details go to the log, never to the client.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
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
class Mapping:
    status: int
    headers: Callable[[Exception], dict[str, str]] | None = None


def _bearer_challenge(exc: Exception) -> dict[str, str]:
    """RFC 6750 §3 and RFC 9470 §3: tell the client what is wrong and what ``acr`` it needs."""
    return {"WWW-Authenticate": challenge(exc)}


#: Most specific first: the first class the exception is an instance of wins.
ERROR_TABLE: list[tuple[type[Exception], Mapping]] = [
    (InvalidBody, Mapping(400)),
    (InsufficientAuthentication, Mapping(401, _bearer_challenge)),
    (Unauthenticated, Mapping(401, _bearer_challenge)),
    (Forbidden, Mapping(403)),
    (IdentityProviderUnavailable, Mapping(503)),
    (OrgNotFound, Mapping(404)),
    (OrgConflict, Mapping(409)),
    (ImportInvalid, Mapping(422)),
    (NotFound, Mapping(404)),
    (Conflict, Mapping(409)),
    (IamError, Mapping(400)),
    (AuditStoreUnavailable, Mapping(503)),
    (AuditSpoolFull, Mapping(503)),
    (AuditSpoolError, Mapping(503)),
    (AuditEventNotFound, Mapping(404)),
    (SearchForbidden, Mapping(403)),
    (SavedSearchNotFound, Mapping(404)),
    (HeadNotFound, Mapping(404)),
    (EventNotLogged, Mapping(409)),
    (AuditError, Mapping(400)),
    (SealStepUpRequired, Mapping(401, _bearer_challenge)),
    (SealNotFound, Mapping(404)),
    (SealForbidden, Mapping(403)),
    (SealStateConflict, Mapping(409)),
    (SealUseRefused, Mapping(409)),
    (SealApplicationInvalid, Mapping(400)),
    (SealDatabaseError, Mapping(503)),
    (SealCaError, Mapping(503)),
    (KeyStoreError, Mapping(503)),
    (TimestampError, Mapping(400)),
    (InvalidSignature, Mapping(422)),
    (MalformedInput, Mapping(400)),
    (CryptoError, Mapping(422)),
    (AlertNotFound, Mapping(404)),
    (ActionNotFound, Mapping(404)),
    (ResponseTargetNotFound, Mapping(404)),
    (InvalidAlertInput, Mapping(400)),
    (InvalidTransition, Mapping(409)),
    (AlertVersionConflict, Mapping(409)),
    (ActionStateConflict, Mapping(409)),
    (SelfApproval, Mapping(403)),
    (TriageForbidden, Mapping(403)),
    (AlertStoreUnavailable, Mapping(503)),
    (ResponseTargetUnavailable, Mapping(503)),
    (AlertError, Mapping(400)),
    (RunNotFound, Mapping(404)),
    (WaiverNotFound, Mapping(404)),
    (WaiverSelfApproval, Mapping(403)),
    (WaiverStateConflict, Mapping(409)),
    (InvalidRequest, Mapping(400)),
    (AlreadySigned, Mapping(409)),
    (NotSignedOff, Mapping(409)),
    (ReportSignatureInvalid, Mapping(422)),
    (SigningUnavailable, Mapping(503)),
    (FontUnavailable, Mapping(503)),
    (StoreUnavailable, Mapping(503)),
    (PolicyError, Mapping(500)),
]

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


def _mapping_for(exc: Exception) -> Mapping | None:
    for cls, mapping in ERROR_TABLE:
        if isinstance(exc, cls):
            return mapping
    return None


async def handle_exception(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Exception, params: dict[str, Any]
) -> None:
    """The one handler for every non-Falcon exception: table lookup, else an opaque 500."""
    del params
    if isinstance(exc, falcon.HTTPError):
        # Falcon resolves the most specific handler; HTTPError keeps its own path.
        serialize_http_error(req, resp, exc)
        if exc.headers:
            resp.set_headers(exc.headers)
        return
    mapping = _mapping_for(exc)
    if mapping is None:
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
        return
    write_problem(
        req,
        resp,
        status=mapping.status,
        code=str(getattr(exc, "code", "error")),
        title=str(getattr(exc, "title", "Error")),
        detail=getattr(exc, "detail", None),
        extra=getattr(exc, "problem_extra", None),
    )
    if mapping.headers is not None:
        resp.set_headers(mapping.headers(exc))


def install(app: AsgiApp) -> None:
    # Every JSON body is read as I-JSON with bounded nesting: a hostile body is a 400
    # (Falcon's MediaMalformedError), never a RecursionError or a string that cannot be written.
    json_handler = falcon.media.JSONHandler(loads=strict_json.loads)
    app.req_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    app.set_error_serializer(serialize_http_error)
    # Falcon's own handler for HTTPError is more specific than Exception and keeps using the
    # serializer above; everything else goes through the table.
    app.add_error_handler(Exception, handle_exception)
