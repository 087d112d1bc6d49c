"""Falcon resources of the seal registry, the seal CA's public material, and the TSA.

Thin: parse, call the service in a worker thread, serialise. JSON bodies arrive checked
against the schemas the OpenAPI document publishes (:data:`APPLICATION`, :data:`REVOKE`).
Authorization is the platform's one decision (``iam.tokens.falcon.guard``), injected by the
composition root (``crypto`` does not import ``iam``): ``guard(req, any_of_roles, acr)`` raises the identity errors (401 with an
RFC 9470 challenge when ``acr`` is too weak, 403) or returns the caller as an
:class:`~.model.Actor`. The CA certificates, the CRL and ``POST /tsa`` are public, as CRL
distribution points and time-stamping authorities are (RFC 5280 §4.2.1.13, RFC 3161 §3.4).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, Protocol

import falcon
import falcon.asgi

from crypto.pki import RevocationReason
from crypto.seals.format import StampPosition
from crypto.seals.registry.build import Registry
from crypto.seals.registry.errors import SealApplicationInvalid
from crypto.seals.registry.model import (
    ORG_ADMIN,
    SEAL_ADMIN,
    SEAL_USER,
    Actor,
    Application,
    SealRecord,
    SealState,
)
from crypto.seals.registry.rules import MAX_HOLDERS, MAX_NAME, MAX_PATH, MAX_VALID_DAYS
from crypto.seals.tsa.authority import CONTENT_TYPE_REPLY, CONTENT_TYPE_TIMESTAMP, MAX_REQUEST_BYTES

#: ``await guard(req, any_of_roles, acr)``: the actor with its live org scope (resolving it may
#: ask the directory, hence a coroutine), or the identity package's 401/403.
Guard = Callable[[falcon.asgi.Request, frozenset[str], str | None], Awaitable[Actor]]
ANY_ROLE = frozenset({ORG_ADMIN, SEAL_ADMIN, SEAL_USER})
OFD_TYPES = ("application/ofd", "application/zip")
MAX_PROPERTY_INFO = 256
_JSON = {"application/json": {"schema": {"type": "object"}}}
_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}


class Router(Protocol):
    """What ``add_routes`` needs of the app's router."""

    def add_route(self, template: str, resource: object) -> None:
        """Add a route."""
        ...


def _op(summary: str, *errors: str, ok: str = "200", content: Any = None) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "OK", "content": content or _JSON}}
    for status in errors:
        responses[status] = {"description": "Problem", "content": _PROBLEM}
    return {"summary": summary, "tags": ["seals"], "responses": responses}


def seal_json(record: SealRecord) -> dict[str, Any]:
    """The public view of a seal record (no key material; the SESeal is public data)."""
    app = record.application
    return {
        "id": record.id,
        "es_id": record.es_id,
        "state": record.state.value,
        "name": app.name,
        "org_path": app.org_path,
        "org_name": app.org_name,
        "uscc": app.uscc,
        "holders": list(app.holders),
        "applicant": record.applicant_name,
        "approver": record.approver,
        "maker": record.maker,
        "valid_start": record.valid_start.isoformat() if record.valid_start else None,
        "valid_end": record.valid_end.isoformat() if record.valid_end else None,
        "cert_serial": record.cert_serial or None,
        "seal": base64.b64encode(record.seal_der).decode() if record.seal_der else None,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "revocation_reason": record.revocation_reason or None,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def application_from(body: dict[str, Any]) -> Application:
    """An application body, as :data:`APPLICATION` admits it (checked at the edge)."""
    try:
        picture = base64.b64decode(body["picture"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SealApplicationInvalid("picture must be base64") from exc
    return Application(
        org_node_id=body.get("org_node", ""),
        org_path=body.get("org_path", ""),
        org_name=body["org_name"],
        uscc=body["uscc"],
        name=body["name"],
        holders=tuple(body["holders"]),
        picture_type=body.get("picture_type", ""),
        picture=picture,
        width_mm=body["width_mm"],
        height_mm=body["height_mm"],
        valid_days=body.get("valid_days", 1095),
    )


MEDIA_JSON = "application/json"
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
#: An application as application_from and rules.check_application read it (the USCC's check
#: character and the picture's format are checked there, 400). The org node is named by
#: ``org_node`` (its id or division code) or by its exact ``org_path``; it must exist.
APPLICATION: dict[str, Any] = {
    "type": "object",
    # The node by id or code, or by path (``org_node`` empty or absent).
    "anyOf": [
        {"required": ["org_node"], "properties": {"org_node": {"minLength": 1}}},
        {"required": ["org_path"]},
    ],
    "required": [
        "org_name",
        "uscc",
        "name",
        "holders",
        "picture",
        "width_mm",
        "height_mm",
    ],
    "properties": {
        "org_node": {"type": "string", "maxLength": MAX_PATH},
        "org_path": {"type": "string", "pattern": "^/", "maxLength": MAX_PATH},
        "org_name": _TEXT,
        "uscc": {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"},
        "name": _TEXT,
        "holders": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_HOLDERS,
            "items": {"type": "string", "minLength": 1},
        },
        "picture_type": {"type": "string"},
        "picture": {"type": "string", "contentEncoding": "base64"},
        "width_mm": {"type": "integer"},
        "height_mm": {"type": "integer"},
        "valid_days": {"type": "integer", "minimum": 1, "maximum": MAX_VALID_DAYS},
    },
}


def _request_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body: the edge checks it against ``schema`` and answers a violation
    with the registry's ``seal_application_invalid`` problem."""
    return {
        "required": required,
        "content": {MEDIA_JSON: {"schema": schema}},
        "x-problem-code": SealApplicationInvalid.code,
    }


REVOKE: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"enum": [r.value for r in RevocationReason]}},
}


class Seals:
    """``POST /seals`` (apply) and ``GET /seals`` (list)."""

    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            **_op("Apply for a seal (org-admin, own subtree)", "400", "401", "403", ok="201"),
            "requestBody": _request_body(APPLICATION),
        },
        "get": {
            **_op("List the seals you may see (?state=)", "400", "401", "403"),
            "parameters": [
                {"name": "state", "in": "query", "schema": {"enum": [s.value for s in SealState]}}
            ],
        },
    }

    def __init__(self, registry: Registry, guard: Guard) -> None:
        self._registry, self._guard = registry, guard

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Apply."""
        actor = await self._guard(req, frozenset({ORG_ADMIN}), None)
        application = application_from(await req.get_media())
        record = await asyncio.to_thread(self._registry.service.apply, actor, application)
        resp.location = f"/seals/{record.id}"
        resp.status = falcon.HTTP_201
        resp.media = seal_json(record)

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """List."""
        actor = await self._guard(req, ANY_ROLE, None)
        raw = req.get_param("state")
        try:
            state = SealState(raw) if raw else None
        except ValueError as exc:
            raise SealApplicationInvalid("state is not a seal state") from exc
        records = await asyncio.to_thread(self._registry.service.list, actor, state)
        resp.media = {"seals": [seal_json(r) for r in records]}


class SealItem:
    """``GET /seals/{seal_id}``."""

    openapi: ClassVar[dict[str, Any]] = {"get": _op("Show a seal", "401", "403", "404")}

    def __init__(self, registry: Registry, guard: Guard) -> None:
        self._registry, self._guard = registry, guard

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, seal_id: str
    ) -> None:
        """Show."""
        actor = await self._guard(req, ANY_ROLE, None)
        record = await asyncio.to_thread(self._registry.service.show, actor, seal_id)
        resp.media = seal_json(record)


_ACTION_ROLES = {
    "approve": frozenset({SEAL_ADMIN}),
    "make": frozenset({SEAL_ADMIN}),
    "activate": frozenset({SEAL_ADMIN, ORG_ADMIN}),
    "suspend": frozenset({SEAL_ADMIN, ORG_ADMIN}),
    "resume": frozenset({SEAL_ADMIN, ORG_ADMIN}),
    "revoke": frozenset({SEAL_ADMIN, ORG_ADMIN}),
}


class SealTransition:
    """``POST /seals/{seal_id}/<action>``: one lifecycle transition.

    High-risk (``introspect_methods``): the composition root's middleware confirms the caller's
    session is still alive at the identity provider (RFC 7662) before the guard runs.
    """

    introspect_methods = frozenset({"POST"})

    def __init__(self, registry: Registry, guard: Guard, action: str) -> None:
        self._registry, self._guard, self._action = registry, guard, action
        roles = ", ".join(sorted(_ACTION_ROLES[action]))
        self.openapi: dict[str, Any] = {
            "post": _op(
                f"{action.capitalize()} a seal ({roles})", "400", "401", "403", "404", "409"
            )
        }
        if action == "revoke":
            self.openapi["post"]["requestBody"] = _request_body(REVOKE, required=False)

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, seal_id: str
    ) -> None:
        """Transition."""
        actor = await self._guard(req, _ACTION_ROLES[self._action], None)
        service = self._registry.service
        if self._action == "revoke":
            body = await req.get_media()
            reason = RevocationReason(body.get("reason", "cessation_of_operation"))
            record = await asyncio.to_thread(service.revoke, actor, seal_id, reason)
        else:
            method = getattr(service, self._action)
            record = await asyncio.to_thread(method, actor, seal_id)
        resp.media = seal_json(record)


def _position(req: falcon.asgi.Request) -> StampPosition:
    values: dict[str, Any] = {}
    for name, kind in (
        ("page", int),
        ("x", float),
        ("y", float),
        ("width", float),
        ("height", float),
    ):
        raw = req.get_param(name)
        if raw is not None:
            try:
                values[name] = kind(raw)
            except ValueError as exc:
                raise SealApplicationInvalid(f"{name} must be a number") from exc
    return StampPosition(**values)


class SealSign:
    """``POST /seals/{seal_id}/sign``: apply the seal (holder, after step-up).

    ``application/octet-stream``: the answer is a detached SES_Signature (DER) over the bytes,
    ``?name=`` goes into propertyInfo. ``application/ofd`` / ``application/zip``: the answer is
    the OFD package with the new Seal signature; ``?page=&x=&y=&width=&height=`` place the stamp.
    """

    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            **_op(
                "Apply a seal to a document (seal-user holder, step-up acr 2)",
                "400",
                "401",
                "403",
                "404",
                "409",
                "415",
                content={"application/octet-stream": _BINARY, "application/ofd": _BINARY},
            ),
            "requestBody": {
                "required": True,
                "content": dict.fromkeys(("application/octet-stream", *OFD_TYPES), _BINARY),
            },
        }
    }

    introspect_methods = frozenset({"POST"})  # high-risk, see SealTransition

    def __init__(self, registry: Registry, guard: Guard) -> None:
        self._registry, self._guard = registry, guard

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, seal_id: str
    ) -> None:
        """Sign."""
        kind = (req.content_type or "").split(";")[0].strip().lower()
        if kind not in ("application/octet-stream", *OFD_TYPES):
            raise falcon.HTTPUnsupportedMediaType(
                description="send application/octet-stream (detached) or application/ofd"
            )
        # Any valid token gets to the service, which decides (seal-user, holder, step-up acr)
        # and audits every refusal with the document hash; a weak acr answers 401 with the
        # RFC 9470 challenge through the error table (SealStepUpRequired).
        actor = await self._guard(req, frozenset(), None)
        body = await req.stream.read()
        service = self._registry.service
        if kind in OFD_TYPES:
            position = _position(req)
            signed = await asyncio.to_thread(service.sign_ofd, actor, seal_id, body, position)
            resp.content_type = "application/ofd"
        else:
            name = req.get_param("name") or "document"
            if not name.isascii() or len(name) > MAX_PROPERTY_INFO:
                raise SealApplicationInvalid("name must be ASCII, at most 256 characters")
            signed = await asyncio.to_thread(service.sign_document, actor, seal_id, body, name)
            resp.content_type = "application/octet-stream"
        resp.data = signed


class CaCertificates:
    """``GET /seals/ca/certificates``: root and issuing CA (PEM), for verifiers' trust stores."""

    auth_required = False
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op(
            "Seal CA certificates (PEM: root, then issuing CA)",
            content={"application/pem-certificate-chain": {"schema": {"type": "string"}}},
        )
    }

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """PEM bundle."""
        del req
        ca = self._registry.ca
        certs = await asyncio.to_thread(lambda: [*ca.trust_roots(), *ca.intermediates()])
        resp.content_type = "application/pem-certificate-chain"
        resp.data = b"".join(c.pem() for c in certs)


class CaCrl:
    """``GET /seals/ca/crl``: the issuing CA's current CRL (DER), the CRL distribution point."""

    auth_required = False
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("Current CRL of the seal CA (DER)", content={"application/pkix-crl": _BINARY})
    }

    def __init__(self, registry: Registry, clock: Callable[[], datetime]) -> None:
        self._registry, self._clock = registry, clock

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """DER CRL."""
        del req
        crl = await asyncio.to_thread(self._registry.ca.crl, self._clock())
        resp.content_type = "application/pkix-crl"
        resp.data = crl.der


class Tsa:
    """``POST /tsa``: RFC 3161 time-stamping over HTTP (§3.4), SM2-signed tokens."""

    auth_required = False
    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            **_op(
                "RFC 3161 time-stamp (application/timestamp-query)",
                "413",
                "415",
                content={CONTENT_TYPE_REPLY: _BINARY},
            ),
            "requestBody": {"required": True, "content": {CONTENT_TYPE_TIMESTAMP: _BINARY}},
        }
    }

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Answer a TimeStampReq with a TimeStampResp (rejections are 200 too, per §3.4)."""
        if (req.content_type or "").split(";")[0].strip().lower() != CONTENT_TYPE_TIMESTAMP:
            raise falcon.HTTPUnsupportedMediaType(description=f"send {CONTENT_TYPE_TIMESTAMP}")
        if (req.content_length or 0) > MAX_REQUEST_BYTES:
            raise falcon.HTTPContentTooLarge(description="a TimeStampReq is small")
        body = await req.stream.read(MAX_REQUEST_BYTES + 1)
        tsa = self._registry.tsa
        if tsa is None:
            raise falcon.HTTPNotFound(description="the time-stamping authority is off")
        resp.content_type = CONTENT_TYPE_REPLY
        resp.data = await asyncio.to_thread(tsa.respond, body)


def add_routes(
    router: Router, registry: Registry, guard: Guard, clock: Callable[[], datetime]
) -> None:
    """Mount the registry, CA and TSA routes."""
    router.add_route("/seals", Seals(registry, guard))
    router.add_route("/seals/ca/certificates", CaCertificates(registry))
    router.add_route("/seals/ca/crl", CaCrl(registry, clock))
    router.add_route("/seals/{seal_id}", SealItem(registry, guard))
    for action in _ACTION_ROLES:
        router.add_route(f"/seals/{{seal_id}}/{action}", SealTransition(registry, guard, action))
    router.add_route("/seals/{seal_id}/sign", SealSign(registry, guard))
    if registry.tsa is not None:
        router.add_route("/tsa", Tsa(registry))
