"""Falcon resources of the org tree and people: thin, every decision is in :mod:`iam.orgs.service`.

The directory is synchronous (python-keycloak's requests session to the Keycloak admin API), so each call runs in a worker
thread. The acting user is the verified token's ``sub``; delegated administration is checked by
the service against the live directory.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

import falcon
import falcon.asgi

from iam.orgs import model as orgs_model
from iam.orgs.errors import InvalidOrgInput
from iam.orgs.imports.files import read_bytes
from iam.orgs.imports.service import ImportService, Inviter
from iam.orgs.model import (
    MAX_ATTRIBUTE_VALUE,
    MAX_ATTRIBUTES,
    MAX_NAME,
    RESERVED_ATTRIBUTES,
    NodeKind,
    PersonDraft,
)
from iam.orgs.service import OrgService

T = TypeVar("T")
_JSON = {"application/json": {"schema": {"type": "object"}}}
_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}


class Router(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


def _op(
    summary: str, ok: str = "200", *errors: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "OK", "content": _JSON}}
    for status in ("401", "403", *errors):
        responses[status] = {"description": "Problem", "content": _PROBLEM}
    op: dict[str, Any] = {"summary": summary, "tags": ["iam-orgs"], "responses": responses}
    if body is not None:
        op["requestBody"] = _request_body(body)
    return op


def _request_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body: the edge checks it against ``schema`` and answers a violation
    with this package's ``invalid_org_input`` problem naming the field."""
    return {
        "required": required,
        "content": {"application/json": {"schema": schema}},
        "x-problem-code": InvalidOrgInput.code,
    }


def _object(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


# Request schemas, checked at the edge before a handler reads the body (anbao.web.bodies);
# iam.orgs.model checks what a schema cannot say (codes per kind, with their check digits).
_ID = {"type": "string", "minLength": 1, "maxLength": 128}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"^[^\x00-\x1f]*\S"}
_ATTRIBUTES = {
    "type": "object",
    "maxProperties": MAX_ATTRIBUTES,
    "propertyNames": {
        "pattern": "^[a-z][a-z0-9_]{0,39}$",
        "not": {"enum": sorted(RESERVED_ATTRIBUTES)},
    },
    "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE},
}
_EMAIL = {
    "type": "string",
    "maxLength": 254,
    "pattern": r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+$",
}
NODE_SCHEMA = _object(
    ("kind", "code", "name"),
    parent_id=_ID,
    kind={"type": "string", "enum": [k.value for k in NodeKind]},
    code={"type": "string", "pattern": "^[0-9A-Z]{6,18}$"},
    name=_NAME,
)
NODE_CHANGE_SCHEMA = _object(name=_NAME, disabled={"type": "boolean"})
MOVE_SCHEMA = _object(("parent_id",), parent_id=_ID)
PERSON_SCHEMA = _object(
    ("username", "family_name", "given_name", "memberships"),
    username={"type": "string", "pattern": f"^{orgs_model._USERNAME.pattern}$"},
    family_name=_NAME,
    given_name=_NAME,
    email=_EMAIL,
    attributes=_ATTRIBUTES,
    memberships={"type": "array", "items": _ID, "minItems": 1, "maxItems": 50},
)
PERSON_CHANGE_SCHEMA = _object(
    family_name=_NAME,
    given_name=_NAME,
    email=_EMAIL,
    attributes=_ATTRIBUTES,
    enabled={"type": "boolean"},
)
GRANT_SCHEMA = _object(node_id=_ID)
_MAX_FIRST, _MAX_PAGE = 1_000_000, 500
_FIRST = {"type": "integer", "minimum": 0, "maximum": _MAX_FIRST}
_MAX = {"type": "integer", "minimum": 1, "maximum": _MAX_PAGE}


def _actor(req: falcon.asgi.Request) -> str:
    return str(req.context.principal.subject)


def person_draft(body: dict[str, Any]) -> tuple[PersonDraft, list[str]]:
    """A person's fields and memberships from a body :data:`PERSON_SCHEMA` admits (people and
    invitations; checked at the edge)."""
    draft = PersonDraft(
        username=body["username"],
        family_name=body["family_name"],
        given_name=body["given_name"],
        email=body.get("email") or "",
        attributes=body.get("attributes", {}),
    )
    return draft, body["memberships"]


class _Base:
    def __init__(self, service: OrgService) -> None:
        self.service = service

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


class Orgs(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("Root nodes the caller administers"),
        "post": _op(
            "Create a node (root: platform-admin only)",
            "201",
            "400",
            "404",
            "409",
            body=NODE_SCHEMA,
        ),
    }

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        nodes = await self.call(self.service.roots, _actor(req))
        resp.media = {"items": [n.as_json() for n in nodes]}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await req.get_media()
        node = await self.call(
            self.service.create_node,
            _actor(req),
            parent_id=body.get("parent_id"),
            kind=body["kind"],
            code=body["code"],
            name=body["name"],
        )
        resp.status = falcon.HTTP_201
        resp.media = node.as_json()


class OrgNodeResource(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("Describe a node", "200", "404"),
        "patch": _op(
            "Rename, disable or enable a node", "200", "400", "404", body=NODE_CHANGE_SCHEMA
        ),
    }

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, node_id: str
    ) -> None:
        node = await self.call(self.service.node, _actor(req), node_id)
        resp.media = node.as_json()

    async def on_patch(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, node_id: str
    ) -> None:
        body = await req.get_media()
        node = await self.call(
            self.service.update_node,
            _actor(req),
            node_id,
            name=body.get("name"),
            disabled=body.get("disabled"),
        )
        resp.media = node.as_json()


class OrgMove(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "post": _op(
            "Move a node under another parent", "200", "400", "404", "409", body=MOVE_SCHEMA
        )
    }

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, node_id: str
    ) -> None:
        body = await req.get_media()
        node = await self.call(self.service.move_node, _actor(req), node_id, body["parent_id"])
        resp.media = node.as_json()


class OrgChildren(_Base):
    openapi: ClassVar[dict[str, Any]] = {"get": _op("Child nodes", "200", "404")}

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, node_id: str
    ) -> None:
        nodes = await self.call(self.service.children, _actor(req), node_id)
        resp.media = {"items": [n.as_json() for n in nodes]}


class OrgMembers(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            **_op("People in a node (paged)", "200", "400", "404"),
            "parameters": [
                {"name": "first", "in": "query", "schema": _FIRST},
                {"name": "max", "in": "query", "schema": _MAX},
            ],
        }
    }

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, node_id: str
    ) -> None:
        first = req.get_param_as_int("first", min_value=0, max_value=_MAX_FIRST, default=0)
        size = req.get_param_as_int("max", min_value=1, max_value=_MAX_PAGE, default=50)
        people = await self.call(self.service.members, _actor(req), node_id, first, size)
        resp.media = {"items": [p.as_json() for p in people]}


class People(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "get": {
            **_op("Find people by username, e-mail or name (those the caller sees)", "200", "400"),
            "parameters": [
                {
                    "name": "q",
                    "in": "query",
                    "required": True,
                    # Any text: one that is blank or holds control characters matches nobody.
                    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                },
                {"name": "first", "in": "query", "schema": _FIRST},
                {"name": "max", "in": "query", "schema": _MAX},
            ],
        },
        "post": _op(
            "Create a person in one or more nodes",
            "201",
            "400",
            "404",
            "409",
            body=PERSON_SCHEMA,
        ),
    }

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        query = req.get_param("q") or ""
        first = req.get_param_as_int("first", min_value=0, max_value=_MAX_FIRST, default=0)
        size = req.get_param_as_int("max", min_value=1, max_value=_MAX_PAGE, default=50)
        people = await self.call(self.service.search_people, _actor(req), query, first, size)
        resp.media = {"items": [p.as_json() for p in people]}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        draft, memberships = person_draft(await req.get_media())
        person = await self.call(self.service.create_person, _actor(req), draft, memberships)
        resp.status = falcon.HTTP_201
        resp.media = person.as_json()


class PersonResource(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("Describe a person", "200", "404"),
        "patch": _op(
            "Change names, e-mail, attributes or enabled",
            "200",
            "400",
            "404",
            body=PERSON_CHANGE_SCHEMA,
        ),
    }

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str
    ) -> None:
        person = await self.call(self.service.person, _actor(req), person_id)
        resp.media = person.as_json()

    async def on_patch(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str
    ) -> None:
        body = await req.get_media()
        person = await self.call(self.service.update_person, _actor(req), person_id, changes=body)
        resp.media = person.as_json()


class Membership(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "put": _op("Add a person to a node", "200", "404", "409"),
        "delete": _op("Remove a person from a node", "200", "404", "409"),
    }

    async def on_put(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str, node_id: str
    ) -> None:
        person = await self.call(self.service.add_membership, _actor(req), person_id, node_id)
        resp.media = person.as_json()

    async def on_delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str, node_id: str
    ) -> None:
        person = await self.call(self.service.remove_membership, _actor(req), person_id, node_id)
        resp.media = person.as_json()


class RoleGrant(_Base):
    """Grants and revocations are high-risk: the caller's session must still be alive."""

    introspect_methods = frozenset({"PUT", "DELETE"})

    openapi: ClassVar[dict[str, Any]] = {
        "put": {
            **_op("Grant a platform role (org-admin: body names node_id)", "200", "400", "404"),
            "requestBody": _request_body(GRANT_SCHEMA, required=False),
        },
        "delete": _op("Revoke a platform role", "200", "400", "404"),
    }

    async def on_put(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str, role: str
    ) -> None:
        body = await req.get_media()
        node_id = body.get("node_id")
        person = await self.call(self.service.grant_role, _actor(req), person_id, role, node_id)
        resp.media = person.as_json()

    async def on_delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str, role: str
    ) -> None:
        person = await self.call(self.service.revoke_role, _actor(req), person_id, role)
        resp.media = person.as_json()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Imports:
    """``POST /iam/imports/{kind}``: a CSV or XLSX body, validated whole, then applied.

    High-risk (the caller's session is introspected): a people file may invite, which gives
    people credentials."""

    introspect_methods = frozenset({"POST"})

    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            **_op(
                "Bulk import nodes or people (CSV or XLSX body; ?dry_run=true)",
                "200",
                "400",
                "415",
                "422",
            ),
            "parameters": [
                {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}},
            ],
            "requestBody": {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX: {"schema": {"type": "string", "format": "binary"}},
                }
            },
        }
    }

    def __init__(self, service: ImportService) -> None:
        self.service = service

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, kind: str
    ) -> None:
        if kind not in {"nodes", "people"}:
            raise falcon.HTTPNotFound()
        media = (req.content_type or "").split(";")[0].strip().lower()
        if media not in {"text/csv", XLSX}:
            raise falcon.HTTPUnsupportedMediaType(description="Send text/csv or an XLSX workbook.")
        data = await req.bounded_stream.read()
        dry_run = req.get_param_as_bool("dry_run", default=False)
        table = read_bytes(data, xlsx=media == XLSX)
        if kind == "nodes":

            def work() -> dict[str, object]:
                return self.service.nodes(_actor(req), table, dry_run=dry_run)

        else:
            principal = req.context.principal

            def work() -> dict[str, object]:
                return self.service.people(
                    str(principal.subject),
                    table,
                    dry_run=dry_run,
                    actor_name=str(principal.username or ""),
                    link_base=req.forwarded_prefix,
                )

        resp.media = await asyncio.to_thread(work)


def add_routes(api: Router, service: OrgService, invitations: Inviter | None = None) -> None:
    api.add_route("/iam/orgs", Orgs(service))
    api.add_route("/iam/orgs/{node_id}", OrgNodeResource(service))
    api.add_route("/iam/orgs/{node_id}/move", OrgMove(service))
    api.add_route("/iam/orgs/{node_id}/children", OrgChildren(service))
    api.add_route("/iam/orgs/{node_id}/members", OrgMembers(service))
    api.add_route("/iam/people", People(service))
    api.add_route("/iam/people/{person_id}", PersonResource(service))
    api.add_route("/iam/people/{person_id}/memberships/{node_id}", Membership(service))
    api.add_route("/iam/people/{person_id}/roles/{role}", RoleGrant(service))
    api.add_route("/iam/imports/{kind}", Imports(ImportService(service, invitations=invitations)))
