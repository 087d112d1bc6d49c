"""Granting an analyst's scope: ``PUT|DELETE /siem/analysts/{person_id}`` (issue 17 §6).

An analyst reads audit events and alerts of one org subtree, or of the whole platform. There is
no second mechanism for it: the grant is the org tree's role grant (:meth:`iam.orgs.service.
OrgService.grant_role`: delegation rules, the live directory) of ``security-analyst`` with a
binding (``org_admin_node``, the one binding :mod:`iam.orgs.scope` reads), and

* a binding to a county, prefecture, ... is that subtree: the events whose ``organization.path``
  lies in it (Keycloak's identity events carry the user's org path);
* a binding to the root of the tree (``{"province_wide": true}``) is the whole tree
  (:attr:`iam.orgs.scope.OrgScope.whole_tree`): every event, those without an org path included.

A person has one binding; every scoped role they hold (auditor, analyst, org-admin) reads it.
Province-wide reach is introspection: the routes are high-risk (a live session is required) and
every attempt, granted or refused, is an ``iam.scope.grant``/``iam.scope.revoke`` audit event.
This resource lives in the composition root because it joins ``iam`` and ``audit``, which may
not import each other.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

import falcon
import falcon.asgi

from anbao.web.bodies import InvalidBody
from audit.model import ResourceRef, UserInfo
from audit.recording.recorder import Recorder
from iam.errors import IamError
from iam.orgs.errors import InvalidOrgInput, OrgConflict
from iam.orgs.model import OrgNode, Person
from iam.orgs.service import OrgService

ANALYST = "security-analyst"
#: Roles besides the analyst's that read the binding: revoking the analyst role keeps it for them.
_SCOPED_ROLES = frozenset({"org-admin", "auditor", "compliance-officer", "seal-admin"})
T = TypeVar("T")
_JSON = {"application/json": {"schema": {"type": "object"}}}
_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
SCOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "oneOf": [  # a node, or the whole province: never both
        {
            "required": ["node_id"],
            "properties": {
                "node_id": {"type": "string", "minLength": 1, "maxLength": 128},
                "province_wide": {"const": False},
            },
        },
        {
            "required": ["province_wide"],
            "properties": {"province_wide": {"const": True}},
            "not": {"required": ["node_id"]},
        },
    ],
}


class Router(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


def _op(summary: str, *errors: str) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": _JSON}}
    for status in ("401", "403", *errors):
        responses[status] = {"description": "Problem", "content": _PROBLEM}
    return {"summary": summary, "tags": ["siem-analysts"], "responses": responses}


def scope_json(person: Person, node: OrgNode | None) -> dict[str, object]:
    return {
        "person_id": person.id,
        "username": person.username,
        "analyst": ANALYST in person.roles,
        "node_id": node.id if node else None,
        "path": node.path if node else None,
        "whole_tree": node is not None and node.parent_id is None,
    }


class AnalystScope:
    """Grant (``PUT``, body ``{"node_id": …}`` or ``{"province_wide": true}``) or revoke."""

    introspect_methods = frozenset({"PUT", "DELETE"})
    openapi: ClassVar[dict[str, Any]] = {
        "put": {
            **_op("Grant the analyst role bound to a subtree or the whole tree", "400", "404"),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SCOPE_SCHEMA}},
                "x-problem-code": InvalidOrgInput.code,
            },
        },
        "delete": _op("Revoke the analyst role (and its binding, unless another role uses it)"),
    }

    def __init__(self, service: OrgService, recorder: Recorder) -> None:
        self.service = service
        self._recorder = recorder

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args))

    async def on_put(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str
    ) -> None:
        await self._audited(req, "iam.scope.grant", person_id, self._grant)
        resp.media = req.context.analyst_scope

    async def on_delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, person_id: str
    ) -> None:
        await self._audited(req, "iam.scope.revoke", person_id, self._revoke)
        resp.media = req.context.analyst_scope

    async def _audited(
        self,
        req: falcon.asgi.Request,
        action: str,
        person_id: str,
        work: Callable[[str, str, dict[str, Any]], dict[str, object]],
    ) -> None:
        """Read the body, run ``work`` and record the attempt, granted or refused (a refusal,
        a body the edge refuses included, is re-raised)."""
        principal = req.context.principal
        try:
            body = await req.get_media() if req.method == "PUT" else {}
            result = await self._call(work, principal.subject, person_id, body)
        except (IamError, InvalidBody) as exc:
            await self._record(req, action, "failure", person_id, {}, reason=exc.code)
            raise
        req.context.analyst_scope = result
        await self._record(req, action, "success", person_id, result)

    def _grant(self, actor: str, person_id: str, body: dict[str, Any]) -> dict[str, object]:
        """``body`` as :data:`SCOPE_SCHEMA` admits it: a node id, or the whole province."""
        node_id = self._root(actor).id if body.get("province_wide") else body["node_id"]
        person = self.service.grant_role(actor, person_id, ANALYST, node_id)
        return scope_json(person, self.service.directory.get_node(node_id))

    def _root(self, actor: str) -> OrgNode:
        """The root of the tree (the province): the one node a province-wide binding names."""
        roots = [n for n in self.service.roots(actor) if n.parent_id is None]
        if len(roots) != 1:
            raise OrgConflict("A province-wide scope needs exactly one root node you administer.")
        return roots[0]

    def _revoke(self, actor: str, person_id: str, _body: dict[str, Any]) -> dict[str, object]:
        person = self.service.revoke_role(actor, person_id, ANALYST)
        if person.admin_node and not person.roles & _SCOPED_ROLES:
            self.service.directory.set_admin_node(person, None)
            person = self.service.person(actor, person_id)
        node = self.service.directory.get_node(person.admin_node) if person.admin_node else None
        return scope_json(person, node)

    async def _record(
        self,
        req: falcon.asgi.Request,
        action: str,
        outcome: str,
        person_id: str,
        result: dict[str, object],
        *,
        reason: str = "",
    ) -> None:
        recorder = self._recorder
        principal = req.context.principal
        labels = {"role": ANALYST}
        if result:
            labels |= {
                "node_id": str(result["node_id"] or ""),
                "node_path": str(result["path"] or ""),
                "whole_tree": str(result["whole_tree"]).lower(),
            }
        event = recorder.event(
            action,
            outcome,
            category=("iam",),
            type=("change",) if outcome == "success" else ("denied",),
            reason=reason,
            user=UserInfo(principal.subject, principal.username, tuple(sorted(principal.roles))),
            org_path=str(result.get("path") or ""),
            resource=ResourceRef("person", person_id, str(result.get("username", ""))),
            labels=labels,
        )
        await recorder.arecord_event(event)


def add_routes(api: Router, service: OrgService, recorder: Recorder) -> None:
    """Served where a recorder audits every attempt (a grant nobody records is not offered)."""
    api.add_route("/siem/analysts/{person_id}", AnalystScope(service, recorder))


__all__ = ["ANALYST", "AnalystScope", "add_routes", "scope_json"]
