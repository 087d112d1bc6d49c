"""HTTP resources of ``/siem/actions``: request, approve and reject response actions.

Actions hang off alerts (an action on an alert outside the caller's scope is not found), so
this room builds on ``siem.alerts``'s resources, never the other way round: an alert's detail
gets its actions through the :data:`siem.alerts.resources.ActionsOf` it is given.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, ClassVar

import falcon
import falcon.asgi

from siem.alerts.errors import ActionNotFound, AlertNotFound
from siem.alerts.model import Caller
from siem.alerts.resources import (
    DECIDE,
    TRIAGE,
    ActionsOf,
    Guard,
    Router,
    _enum_list,
    _limit,
    _list_of,
    _op,
)
from siem.alerts.service import AlertService
from siem.model import ResponseKind
from siem.responses.model import ActionFilter, ActionState
from siem.responses.service import ResponseService

#: The ``state`` query parameter of the action listing.
_SCHEMAS = {"state": _list_of([s.value for s in ActionState])}

ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["alert_id", "kind"],
    "properties": {
        "alert_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "kind": {"enum": [k.value for k in ResponseKind]},
        "target_field": {"type": "string", "maxLength": 64},
    },
}
REJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "pattern": "\\S", "maxLength": 1000}},
}


def actions_of(responses: ResponseService) -> ActionsOf:
    """An alert's actions as JSON, for the alert detail (:data:`siem.alerts.resources.ActionsOf`)."""

    def listed(alert_id: str) -> list[dict[str, Any]]:
        return [a.as_dict() for a in responses.list(ActionFilter(alert_id=alert_id))]

    return listed


class _ActionBase:
    def __init__(self, responses: ResponseService, alerts: AlertService, guard: Guard) -> None:
        self._responses = responses
        self._alerts = alerts
        self._guard = guard

    def _in_scope(self, alert_id: str, scope: str) -> bool:
        try:
            self._alerts.get(alert_id, scope)
        except AlertNotFound:
            return False
        return True

    async def _scoped(self, action_id: str, caller: Caller) -> None:
        """An action on an alert outside the caller's scope is not found (nor its existence)."""
        record = await asyncio.to_thread(self._responses.get, action_id)
        if not await asyncio.to_thread(self._in_scope, record.alert_id, caller.scope):
            raise ActionNotFound(f"no action {action_id[:64]!r}")


class ActionsCollection(_ActionBase):
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op(
            "Response actions, newest first",
            "400",
            params=("state", "alert_id", "limit"),
            schemas=_SCHEMAS,
        ),
        "post": _op(
            "Request an action on an alert's entity (waits for another person's approval)",
            "400",
            "404",
            body=ACTION_SCHEMA,
        ),
    }

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await self._guard(req, DECIDE)
        criteria = ActionFilter(
            states=_enum_list("state", req.get_param("state"), ActionState),
            alert_id=req.get_param("alert_id") or "",
            limit=_limit(req.get_param("limit"), 100),
        )
        found = await asyncio.to_thread(self._responses.list, criteria)
        alerts = {a.alert_id for a in found}
        seen = {i for i in alerts if await asyncio.to_thread(self._in_scope, i, caller.scope)}
        resp.media = {"actions": [a.as_dict() for a in found if a.alert_id in seen]}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await self._guard(req, TRIAGE)
        body = await req.get_media()
        alert_id = body["alert_id"]
        await asyncio.to_thread(self._alerts.get, alert_id, caller.scope)
        field = body.get("target_field") or ""
        record = await asyncio.to_thread(
            functools.partial(self._responses.request, actor_id=caller.subject),
            alert_id,
            ResponseKind(body["kind"]),
            caller.name,
            field,
        )
        resp.status = falcon.HTTP_201
        resp.location = f"/siem/actions/{record.id}"
        resp.media = record.as_dict()


class ActionApprove(_ActionBase):
    #: Executing a response is high-risk: the middleware asks Keycloak the session is alive.
    introspect_methods = frozenset({"POST"})
    openapi: ClassVar[dict[str, Any]] = {
        "post": _op("Approve a pending action (not your own request) and execute it", "404", "409")
    }

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, action_id: str
    ) -> None:
        caller = await self._guard(req, DECIDE)
        await self._scoped(action_id, caller)
        record = await asyncio.to_thread(
            self._responses.approve, action_id, caller.name, actor_id=caller.subject
        )
        resp.media = record.as_dict()


class ActionReject(_ActionBase):
    introspect_methods = frozenset({"POST"})
    openapi: ClassVar[dict[str, Any]] = {
        "post": _op(
            "Reject a pending action with a reason", "400", "404", "409", body=REJECT_SCHEMA
        )
    }

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, action_id: str
    ) -> None:
        caller = await self._guard(req, DECIDE)
        await self._scoped(action_id, caller)
        reason = (await req.get_media())["reason"]
        record = await asyncio.to_thread(
            self._responses.reject, action_id, caller.name, reason, actor_id=caller.subject
        )
        resp.media = record.as_dict()


def add_routes(api: Router, responses: ResponseService, alerts: AlertService, guard: Guard) -> None:
    """Mount ``/siem/actions…``."""
    api.add_route("/siem/actions", ActionsCollection(responses, alerts, guard))
    api.add_route("/siem/actions/{action_id}/approve", ActionApprove(responses, alerts, guard))
    api.add_route("/siem/actions/{action_id}/reject", ActionReject(responses, alerts, guard))
