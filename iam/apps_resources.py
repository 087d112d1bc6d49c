"""HTTP resources for app onboarding: ``/iam/apps`` (thin; the rules live in the service).

Responses that carry a client secret are ``Cache-Control: no-store`` (RFC 6749 §5.1): the
secret is shown at registration and rotation only.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Protocol

import falcon
import falcon.asgi

from iam.apps import parse_registration, parse_update
from iam.apps_service import DEVELOPER_ROLES, AppService
from iam.falcon_auth import requires

_JSON = {"application/json": {"schema": {"type": "object"}}}
_TAGS = ["apps"]

REGISTRATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["client_id", "type"],
    "properties": {
        "client_id": {"type": "string", "pattern": "^[a-z][a-z0-9-]{2,62}$"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "type": {"enum": ["confidential", "public"]},
        "auth_method": {"enum": ["client_secret", "private_key_jwt", "none"]},
        "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "roles": {"type": "array", "items": {"type": "string"}},
        "service_account": {"type": "boolean"},
        "jwks_url": {"type": "string", "format": "uri"},
        "jwks": {"type": "object"},
    },
    "additionalProperties": False,
}


class RouteAdder(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


def _caller(req: falcon.asgi.Request) -> Any:
    return req.context.principal


@requires(any_role=DEVELOPER_ROLES)
class AppsCollection:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "Apps the caller may see (platform-admin: all registered apps)",
            "tags": _TAGS,
            "responses": {"200": {"description": "Apps", "content": _JSON}},
        },
        "post": {
            "summary": "Register an app as an OIDC client; returns its credentials once",
            "tags": _TAGS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": REGISTRATION_SCHEMA}},
            },
            "responses": {
                "201": {
                    "description": "Registered; the secret is not shown again",
                    "content": _JSON,
                },
                "400": {"description": "Invalid field (named in the problem's field/errors)"},
                "409": {"description": "client_id taken"},
            },
        },
    }

    def __init__(self, service: AppService) -> None:
        self._service = service

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        apps = await asyncio.to_thread(self._service.list, _caller(req))
        resp.media = {"apps": [a.as_dict() for a in apps]}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        registration = parse_registration(await req.get_media())
        created = await asyncio.to_thread(self._service.register, _caller(req), registration)
        resp.status = 201
        resp.location = f"/iam/apps/{created.app.client_id}"
        resp.cache_control = ["no-store"]
        resp.media = created.as_dict()


@requires(any_role=DEVELOPER_ROLES)
class AppItem:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            "summary": "Describe an app (never its secret)",
            "tags": _TAGS,
            "responses": {"200": {"description": "App", "content": _JSON}},
        },
        "patch": {
            "summary": "Change name, description, redirect URIs; enabled=false disables",
            "tags": _TAGS,
            "requestBody": {"required": True, "content": _JSON},
            "responses": {"200": {"description": "Updated app", "content": _JSON}},
        },
    }

    def __init__(self, service: AppService) -> None:
        self._service = service

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, client_id: str
    ) -> None:
        app = await asyncio.to_thread(self._service.describe, _caller(req), client_id)
        resp.media = app.as_dict()

    async def on_patch(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, client_id: str
    ) -> None:
        update = parse_update(await req.get_media())
        app = await asyncio.to_thread(self._service.update, _caller(req), client_id, update)
        resp.media = app.as_dict()


@requires(any_role=DEVELOPER_ROLES, introspect=True)  # a new secret: the session must be alive
class AppSecret:
    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            "summary": "Rotate a confidential app's client secret; returns the new one once",
            "tags": _TAGS,
            "responses": {"200": {"description": "New credentials", "content": _JSON}},
        }
    }

    def __init__(self, service: AppService) -> None:
        self._service = service

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, client_id: str
    ) -> None:
        rotated = await asyncio.to_thread(self._service.rotate_secret, _caller(req), client_id)
        resp.cache_control = ["no-store"]
        resp.media = rotated.as_dict()


def add_routes(api: RouteAdder, service: AppService) -> None:
    api.add_route("/iam/apps", AppsCollection(service))
    api.add_route("/iam/apps/{client_id}", AppItem(service))
    api.add_route("/iam/apps/{client_id}/secret", AppSecret(service))
