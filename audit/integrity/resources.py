"""Falcon resources for proofs, tree heads and reveal: thin, decisions live in the services.

Authorization is the platform's one decision (``iam.tokens.falcon.guard``), injected by the
composition root; ``audit`` does not import ``iam`` (house dependency rule). Proofs and heads are for
``auditor`` and ``security-analyst``; reveal for ``security-analyst`` after a step-up
(:mod:`audit.sensitive.service`). An org-scoped caller gets proofs only for its subtree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol

import falcon
import falcon.asgi

from audit.integrity.model import IntegrityError
from audit.integrity.service import HeadTicker, IntegrityService
from audit.ports import AuditStore
from audit.sensitive.masking import SensitiveDataError
from audit.sensitive.service import (
    REVEAL_ACR,
    REVEAL_ROLE,
    Actor,
    AuditEventNotFound,
    RevealService,
    in_scope,
)

READ_ROLES = frozenset({"auditor", "security-analyst"})
_JSON = {"application/json": {"schema": {"type": "object"}}}
_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}

#: ``guard(req, any_of_roles, acr)`` raises the identity package's 401/403 errors or returns
#: the caller as an :class:`Actor`.
Guard = Callable[[falcon.asgi.Request, frozenset[str], str | None], Awaitable[Actor]]
#: ``await on_refused(req, event_id, exc)`` when the guard refuses a reveal (missing role or
#: step-up): the composition root, which knows the caller, records the refused attempt.
RevealRefused = Callable[[falcon.asgi.Request, str, Exception], Awaitable[None]]


class Router(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


def _op(
    summary: str,
    *errors: str,
    params: tuple[str, ...] = (),
    content: dict[str, Any] | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": content or _JSON}}
    for status in ("401", "403", *errors):
        responses[status] = {"description": "Problem", "content": _PROBLEM}
    op: dict[str, Any] = {"summary": summary, "tags": ["audit-integrity"], "responses": responses}
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "required": p in _REQUIRED, "schema": _QUERY[p]}
            for p in params
        ]
    return op


_SIZE = {"type": "integer", "minimum": 0}
#: Query parameters as the handlers read them.
_QUERY: dict[str, dict[str, Any]] = {
    "stream": {"type": "string"},
    "format": {"type": "string", "enum": ["json", "ndjson"]},
    "first": _SIZE,
    "second": _SIZE,
}
_REQUIRED = frozenset({"first", "second"})
#: ``POST /audit/events/{event_id}/reveal`` as :class:`Reveal` reads it.
REVEAL: dict[str, Any] = {
    "type": "object",
    "required": ["reason"],
    "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"},
        "fields": {"type": "array", "items": {"type": "string", "maxLength": 256}},
    },
}


def _int_param(req: falcon.asgi.Request, name: str) -> int:
    raw = req.get_param(name, required=True)
    if not raw.isdigit():
        raise IntegrityError(f"{name} must be a non-negative integer.")
    return int(raw)


class EventProof:
    """``GET /audit/events/{event_id}/proof``: RFC 6962 inclusion proof + the signed head."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("Inclusion proof of a stored event in the latest signed tree head", "404", "409")
    }

    def __init__(self, service: IntegrityService, store: AuditStore, guard: Guard) -> None:
        self._service, self._store, self._guard = service, store, guard

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, event_id: str
    ) -> None:
        actor = await self._guard(req, READ_ROLES, None)
        document = await asyncio.to_thread(self._store.get, event_id)
        org = document.get("organization", {}).get("path", "") if document else ""
        if document is None or not in_scope(actor.scope_path, str(org)):
            raise AuditEventNotFound(f"No audit event {event_id} in your scope.")
        resp.media = await asyncio.to_thread(self._service.inclusion, document)


class Heads:
    """``GET /audit/heads``: every signed tree head (JSON, or NDJSON for anchoring)."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op(
            "Signed tree heads and the keys that sign them",
            params=("stream", "format"),
            content={**_JSON, "application/x-ndjson": {"schema": {"type": "string"}}},
        )
    }

    def __init__(self, service: IntegrityService, guard: Guard) -> None:
        self._service, self._guard = service, guard

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self._guard(req, READ_ROLES, None)
        stream = req.get_param("stream")
        fmt = req.get_param("format") or "json"
        if fmt not in {"json", "ndjson"}:
            raise IntegrityError("format must be json or ndjson.")
        if fmt == "ndjson":
            lines = await asyncio.to_thread(lambda: "".join(self._service.export_heads(stream)))
            resp.content_type = "application/x-ndjson"
            resp.text = lines
            return
        heads = await asyncio.to_thread(self._service.log.heads, stream)
        resp.media = {
            "heads": [h.to_json() for h in heads],
            "public_keys": self._service.public_keys_pem(),
        }


class HeadConsistency:
    """``GET /audit/heads/consistency?stream=&first=&second=``: RFC 6962 §2.1.2 proof."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": _op(
            "Consistency proof between two signed tree heads",
            "400",
            "404",
            params=("stream", "first", "second"),
        )
    }

    def __init__(self, service: IntegrityService, guard: Guard) -> None:
        self._service, self._guard = service, guard

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self._guard(req, READ_ROLES, None)
        stream = req.get_param("stream") or "main"
        first, second = _int_param(req, "first"), _int_param(req, "second")
        resp.media = await asyncio.to_thread(self._service.consistency, stream, first, second)


class Reveal:
    """``POST /audit/events/{event_id}/reveal``: decrypt personal data; audited, step-up.

    High-risk (``introspect_methods``): the composition root's middleware confirms the caller's
    session is still alive at the identity provider (RFC 7662).
    """

    introspect_methods = frozenset({"POST"})

    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            **_op("Decrypt an event's sensitive fields (audited)", "400", "404", "503"),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": REVEAL}},
                # A body that breaks the schema is refused at the edge with this problem.
                "x-problem-code": SensitiveDataError.code,
            },
        }
    }

    def __init__(
        self, service: RevealService, guard: Guard, on_refused: RevealRefused | None = None
    ) -> None:
        self._service, self._guard, self._on_refused = service, guard, on_refused

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, event_id: str
    ) -> None:
        try:
            actor = await self._guard(req, frozenset({REVEAL_ROLE}), REVEAL_ACR)
        except Exception as exc:  # re-raised: the error table answers; the attempt is recorded
            if self._on_refused is not None:
                await self._on_refused(req, event_id, exc)
            raise
        body = await req.get_media()
        result = await asyncio.to_thread(
            self._service.reveal,
            actor,
            event_id,
            reason=body["reason"],
            fields=body.get("fields", []),
        )
        resp.set_header("Cache-Control", "no-store")
        resp.media = result


class HeadTickerLifespan:
    """ASGI lifespan middleware: sign due tree heads in the background while the app runs."""

    def __init__(self, ticker: HeadTicker) -> None:
        self._ticker = ticker

    async def process_startup(self, scope: object, event: object) -> None:
        del scope, event
        self._ticker.start()

    async def process_shutdown(self, scope: object, event: object) -> None:
        del scope, event
        self._ticker.stop()


def add_routes(
    api: Router,
    *,
    integrity: IntegrityService,
    store: AuditStore,
    guard: Guard,
    reveal: RevealService | None = None,
    on_reveal_refused: RevealRefused | None = None,
) -> None:
    api.add_route("/audit/events/{event_id}/proof", EventProof(integrity, store, guard))
    api.add_route("/audit/heads", Heads(integrity, guard))
    api.add_route("/audit/heads/consistency", HeadConsistency(integrity, guard))
    if reveal is not None:
        api.add_route("/audit/events/{event_id}/reveal", Reveal(reveal, guard, on_reveal_refused))
