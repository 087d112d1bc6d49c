"""HTTP resources for app onboarding: ``/iam/apps`` (thin; the rules live in the services).

Responses that carry a client secret are ``Cache-Control: no-store`` (RFC 6749 §5.1): the
secret is shown at registration and rotation only. ``/iam/apps/{client_id}/roles`` lists an
app's roles with their holders; giving and taking a role are high-risk (they grant access), so
they ask the issuer whether the caller's session is still alive (``introspect_methods``).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Protocol

import falcon
import falcon.asgi

from iam.apps.model import (
    CLIENT_ID,
    MAX_REDIRECT_URIS,
    MAX_ROLES,
    MAX_SCOPES,
    MAX_TEXT_LENGTH,
    MAX_URI_LENGTH,
    ROLE_NAME,
    SCOPE_NAME,
    parse_registration,
    parse_update,
)
from iam.apps.roles import AppRoleService
from iam.apps.service import READER_ROLES, AppService
from iam.errors import InvalidRequest
from iam.tokens.falcon import requires

_JSON = {"application/json": {"schema": {"type": "object"}}}
_TAGS = ["apps"]

#: Text Keycloak keeps: at most 255 characters, no control characters.
_TEXT = {"type": "string", "maxLength": MAX_TEXT_LENGTH, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}
_REDIRECT_URIS = {
    "type": "array",
    "maxItems": MAX_REDIRECT_URIS,
    "items": {"type": "string", "format": "uri", "maxLength": MAX_URI_LENGTH},
}

# The rules that tie fields together (a public app has redirect URIs and no secret, and so on)
# and the reserved client ids are checked by iam.apps.model and named in the problem document.
REGISTRATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["client_id", "type"],
    "properties": {
        "client_id": {"type": "string", "pattern": f"^{CLIENT_ID.pattern}$"},
        "name": _TEXT,
        "description": _TEXT,
        "type": {"enum": ["confidential", "public"]},
        "auth_method": {"enum": ["client_secret", "private_key_jwt", "none"]},
        "redirect_uris": _REDIRECT_URIS,
        "scopes": {
            "type": "array",
            "maxItems": MAX_SCOPES,
            "items": {"type": "string", "pattern": f"^{SCOPE_NAME.pattern}$"},
        },
        "roles": {
            "type": "array",
            "maxItems": MAX_ROLES,
            "items": {"type": "string", "pattern": f"^{ROLE_NAME.pattern}$"},
        },
        "service_account": {"type": "boolean"},
        "jwks_url": {"type": "string", "format": "uri", "maxLength": MAX_URI_LENGTH},
        "jwks": {
            "type": "object",
            "required": ["keys"],
            "properties": {"keys": {"type": "array", "minItems": 1, "items": {"type": "object"}}},
        },
    },
    "additionalProperties": False,
}
UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "name": _TEXT,
        "description": _TEXT,
        "enabled": {"type": "boolean"},
        "redirect_uris": _REDIRECT_URIS,
    },
    "additionalProperties": False,
}


#: A person named by username or Keycloak id.
MAX_USER = 255
GRANT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["user"],
    "properties": {
        "user": {"type": "string", "minLength": 1, "maxLength": MAX_USER, "pattern": r"\S"}
    },
    "additionalProperties": False,
}


def _request_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON request body: the edge checks it against ``schema`` and answers a violation
    with ``invalid_request`` naming the field; :mod:`iam.apps.model` then checks the rules
    that tie fields together."""
    return {
        "required": True,
        "content": {"application/json": {"schema": schema}},
        "x-problem-code": InvalidRequest.code,
    }


class RouteAdder(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


def _caller(req: falcon.asgi.Request) -> Any:
    return req.context.principal


@requires(any_role=READER_ROLES)
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
            "requestBody": _request_body(REGISTRATION_SCHEMA),
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


@requires(any_role=READER_ROLES)
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
            "requestBody": _request_body(UPDATE_SCHEMA),
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


@requires(any_role=READER_ROLES)
class AppSecret:
    introspect_methods = frozenset({"POST"})  # a new secret: the session must be alive
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


ROLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": f"^{ROLE_NAME.pattern}$"}},
    "additionalProperties": False,
}


@requires(any_role=READER_ROLES)
class AppRoles:
    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            "summary": "Define one more role on the app (its owner or a platform-admin)",
            "tags": _TAGS,
            "requestBody": _request_body(ROLE_SCHEMA),
            "responses": {
                "201": {"description": "The app with its roles", "content": _JSON},
                "400": {"description": "Invalid role name, or too many roles"},
                "403": {"description": "Not the app's owner"},
                "404": {"description": "No such app (or one you may not see)"},
            },
        },
        "get": {
            "summary": "The app's roles with the holders you may see (org-admin: your subtree)",
            "tags": _TAGS,
            "responses": {
                "200": {"description": "Roles and holders", "content": _JSON},
                "404": {"description": "No such app (or one you may not see)"},
            },
        },
    }

    def __init__(self, roles: AppRoleService, service: AppService) -> None:
        self._roles = roles
        self._service = service

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, client_id: str
    ) -> None:
        roles = await asyncio.to_thread(self._roles.roles, _caller(req), client_id)
        resp.media = {"client_id": client_id, "roles": [r.as_dict() for r in roles]}

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, client_id: str
    ) -> None:
        name = (await req.get_media())["name"]
        app = await asyncio.to_thread(self._service.add_role, _caller(req), client_id, name)
        resp.status = 201
        resp.media = app.as_dict()


@requires(any_role=READER_ROLES)
class AppRoleHolders:
    introspect_methods = frozenset({"POST"})  # grants access: the session must be alive
    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            "summary": "Give a person (username or id) the app's role (owner, org-admin, admin)",
            "tags": _TAGS,
            "requestBody": _request_body(GRANT_SCHEMA),
            "responses": {
                "201": {"description": "The person holds the role", "content": _JSON},
                "400": {"description": "Invalid body"},
                "403": {"description": "Not allowed (e.g. a grant to yourself)"},
                "404": {"description": "No such app, role, or person in your reach"},
            },
        }
    }

    def __init__(self, roles: AppRoleService) -> None:
        self._roles = roles

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, client_id: str, role: str
    ) -> None:
        user = (await req.get_media())["user"].strip()
        holder = await asyncio.to_thread(self._roles.grant, _caller(req), client_id, role, user)
        resp.status = 201
        resp.location = f"/iam/apps/{client_id}/roles/{role}/holders/{holder.id}"
        resp.media = {"client_id": client_id, "role": role, "holder": holder.as_dict()}


@requires(any_role=READER_ROLES)
class AppRoleHolder:
    introspect_methods = frozenset({"DELETE"})
    openapi: ClassVar[dict[str, Any]] = {
        "delete": {
            "summary": "Take the app's role from a person (owner, org-admin, admin)",
            "tags": _TAGS,
            "responses": {
                "204": {"description": "The person no longer holds the role"},
                "403": {"description": "Not allowed (e.g. your own role)"},
                "404": {"description": "No such app, role, holder in your reach"},
            },
        }
    }

    def __init__(self, roles: AppRoleService) -> None:
        self._roles = roles

    async def on_delete(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        client_id: str,
        role: str,
        user_id: str,
    ) -> None:
        await asyncio.to_thread(self._roles.revoke, _caller(req), client_id, role, user_id)
        resp.status = 204


def add_routes(api: RouteAdder, service: AppService, roles: AppRoleService) -> None:
    api.add_route("/iam/apps", AppsCollection(service))
    api.add_route("/iam/apps/{client_id}", AppItem(service))
    api.add_route("/iam/apps/{client_id}/secret", AppSecret(service))
    api.add_route("/iam/apps/{client_id}/roles", AppRoles(roles, service))
    api.add_route("/iam/apps/{client_id}/roles/{role}/holders", AppRoleHolders(roles))
    api.add_route("/iam/apps/{client_id}/roles/{role}/holders/{user_id}", AppRoleHolder(roles))
