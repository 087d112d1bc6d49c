"""The service's own endpoints: liveness, readiness, metrics, the API document, the caller."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import falcon
import falcon.asgi

from anbao.web.health import Readiness
from anbao.web.metrics import Metrics
from anbao.web.openapi import Api

_JSON = {"application/json": {"schema": {"type": "object"}}}
#: The liveness answer: :class:`Health`'s, and the one given before Falcon (:mod:`anbao.app`).
ALIVE = '{"status":"ok"}'


class Health:
    """Liveness: the process serves requests. Touches no dependency, so it stays cheap."""

    auth_required = False
    #: Counted in the metrics, not written to the access log (:mod:`anbao.web.middleware`).
    probe = True
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "Liveness probe",
            "tags": ["operations"],
            "responses": {"200": {"description": "Alive", "content": _JSON}},
        }
    }

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        del req
        # A plain attribute: Response.data is a property, dearer than encoding 15 characters.
        resp.text = ALIVE


class Ready:
    """Readiness: every required dependency answers; 503 otherwise, with per-dependency detail."""

    auth_required = False
    probe = True
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "Readiness probe with each dependency's status and latency",
            "tags": ["operations"],
            "responses": {
                "200": {"description": "Ready", "content": _JSON},
                "503": {"description": "A required dependency is down", "content": _JSON},
            },
        }
    }

    def __init__(self, readiness: Readiness) -> None:
        self._readiness = readiness

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        del req
        ready, report = await self._readiness.check()
        resp.status = 200 if ready else 503
        resp.text = json.dumps(report)


class MetricsResource:
    auth_required = False
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "Prometheus metrics",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "Metrics in the Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        del req
        resp.content_type = self._metrics.content_type
        resp.data = self._metrics.render()


class OpenApiDocument:
    auth_required = False
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "This API's OpenAPI 3.1 document",
            "tags": ["operations"],
            "responses": {"200": {"description": "OpenAPI document", "content": _JSON}},
        }
    }

    def __init__(self, api: Api) -> None:
        self._api = api
        self._body: str | None = None

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        del req
        if self._body is None:  # built once, after every route has been added
            self._body = json.dumps(self._api.document())
        resp.text = self._body


class WhoAmI:
    """The verified caller: lets app developers check what Anbao sees in their token."""

    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "The authenticated principal",
            "tags": ["identity"],
            "responses": {"200": {"description": "Principal", "content": _JSON}},
        }
    }

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        principal = req.context.principal
        resp.media = {
            "subject": principal.subject,
            "username": principal.username,
            "client_id": principal.client_id,
            "roles": sorted(principal.roles),
            "scopes": sorted(principal.scopes),
            "acr": principal.acr,
            "org_path": principal.org_path,
            "expires_at": principal.expires_at,
        }
