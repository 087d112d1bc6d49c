"""HTTP resources of alert triage and response actions (thin: the rules live in the services).

Roles: ``security-analyst`` triages (list, read, update, notes, request actions);
``security-analyst`` or ``platform-admin`` decide pending actions, never their own request.
Authorization is the platform's one decision (``iam.tokens.falcon.guard``), passed in by the
composition root (it checks the token's roles and returns the caller: the token's user name and
its live org scope), so this package imports nothing from ``iam``. Alerts outside the caller's
org scope are not found, and so are actions on them. Bodies reach the handlers already checked
against the schemas below, which the OpenAPI document publishes (``anbao.web.bodies``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final, Protocol

import falcon
import falcon.asgi

from siem.alerts.codec import parse_time, to_document
from siem.alerts.errors import ActionNotFound, AlertNotFound, InvalidAlertInput
from siem.alerts.links import audit_links
from siem.alerts.model import (
    _TAG_RE,
    MAX_NOTE_CHARS,
    MAX_TAGS,
    Alert,
    AlertFilter,
    AlertStatus,
    Caller,
    CloseReason,
)
from siem.alerts.service import AlertService, Change
from siem.model import ResponseKind, Severity
from siem.responses.model import ActionFilter, ActionState
from siem.responses.service import ResponseService

SECURITY_ANALYST: Final = "security-analyst"
PLATFORM_ADMIN: Final = "platform-admin"
TRIAGE: Final = frozenset({SECURITY_ANALYST})
DECIDE: Final = frozenset({SECURITY_ANALYST, PLATFORM_ADMIN})

#: ``await guard(request, roles of which the caller needs one)``: the caller (user name from
#: the verified token, live org scope); raises 401/403.
Guard = Callable[[falcon.asgi.Request, frozenset[str]], Awaitable[Caller]]

_JSON = {"application/json": {"schema": {"type": "object"}}}
_TAGS = ["siem"]
_COUNT = re.compile(r"[0-9]{1,9}").fullmatch
_FILTERS = ("status", "severity", "rule", "assignee", "since", "until", "entity", "tag")


class Router(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


def _list_of(values: list[str]) -> dict[str, Any]:
    """A comma-separated list of enum values, as ``_enum_list`` reads it (never empty: the
    edge refuses an empty query value)."""
    one = "(" + "|".join(values) + ")"
    return {"type": "string", "pattern": f"^{one}(,{one})*$"}


#: Most alerts or actions one page lists (the alert store's own bound).
MAX_LIMIT: Final = 500
#: Deepest page of alerts (the alert service's bound: deeper paging is a search's job).
MAX_OFFSET: Final = 10_000
_TEXT_PARAM = {"type": "string"}
_TIME_PARAM = {"type": "string", "format": "date-time"}
#: Query parameters' schemas, as alert_filter and the action listing read them.
_PARAMS: dict[str, dict[str, Any]] = {
    "status": _list_of([s.value for s in AlertStatus]),
    "severity": _list_of([s.value for s in Severity]),
    "state": _list_of([s.value for s in ActionState]),
    "since": _TIME_PARAM,
    "until": _TIME_PARAM,
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
}
_USER = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]*$"}
CHANGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"enum": [s.value for s in AlertStatus]},
        "reason": {"enum": [r.value for r in CloseReason]},
        "assignee": _USER,
        "tags": {
            "type": "array",
            "maxItems": MAX_TAGS,
            "items": {"type": "string", "pattern": _TAG_RE.pattern},
        },
    },
    "additionalProperties": False,
}
NOTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE_CHARS, "pattern": "\\S"}
    },
}
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


def _op(
    summary: str,
    *errors: str,
    params: tuple[str, ...] = (),
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": _TAGS,
        "responses": {"200": {"description": "OK", "content": _JSON}}
        | {e: {"description": "Error (problem+json)"} for e in ("403", *errors)},
    }
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "required": False, "schema": _PARAMS.get(p, _TEXT_PARAM)}
            for p in params
        ]
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
            # A body that breaks the schema is refused at the edge with this package's problem.
            "x-problem-code": InvalidAlertInput.code,
        }
    return op


def _enum_list(name: str, raw: str | None, kind: Any) -> tuple[Any, ...]:
    try:
        return tuple(kind(v.strip()) for v in (raw or "").split(",") if v.strip())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidAlertInput(f"expected one or more of {allowed}", field=name) from None


def _time(name: str, raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise InvalidAlertInput("expected an RFC 3339 time with offset", field=name) from None


def _limit(raw: str | None, default: int) -> int:
    """A page size of 1 to :data:`MAX_LIMIT`: outside is the client's mistake, never clamped."""
    limit = _int("limit", raw, default)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidAlertInput(f"must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def _int(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    # ASCII digits only (str.isdigit also takes "²", which int() refuses), and a bound a
    # database integer holds.
    if not _COUNT(raw):
        raise InvalidAlertInput("expected a non-negative integer below 10^9", field=name)
    return int(raw)


def alert_filter(get: Callable[[str], str | None]) -> AlertFilter:
    """Query parameters -> :class:`AlertFilter`."""
    return AlertFilter(
        statuses=_enum_list("status", get("status"), AlertStatus),
        severities=_enum_list("severity", get("severity"), Severity),
        rule_id=get("rule") or "",
        assignee=get("assignee") or "",
        since=_time("since", get("since")),
        until=_time("until", get("until")),
        entity=get("entity") or "",
        tag=get("tag") or "",
        limit=_limit(get("limit"), 50),
        offset=_int("offset", get("offset"), 0),
    )


def parse_change(body: dict[str, Any], if_match: str | None) -> Change:
    """PATCH body, as :data:`CHANGE_SCHEMA` admits it (checked at the edge) -> :class:`Change`."""
    status, reason, tags = body.get("status"), body.get("reason"), body.get("tags")
    return Change(
        status=AlertStatus(status) if status else None,
        reason=CloseReason(reason) if reason else None,
        assignee=body.get("assignee"),
        tags=tuple(tags) if tags is not None else None,
        expected_version=if_match.strip('"') if if_match else None,
    )


class _Base:
    def __init__(
        self, alerts: AlertService, responses: ResponseService | None, guard: Guard, base_url: str
    ) -> None:
        self._alerts = alerts
        self._responses = responses
        self._guard = guard
        self._base_url = base_url

    def _detail(self, alert: Alert, resp: falcon.asgi.Response) -> dict[str, Any]:
        resp.set_header("ETag", f'"{alert.version}"')
        doc = to_document(alert) | {
            "version": alert.version,
            "links": audit_links(alert, self._base_url),
        }
        doc.pop("detection_keys", None)
        if self._responses is not None:
            found = self._responses.list(ActionFilter(alert_id=alert.id))
            doc["actions"] = [a.as_dict() for a in found]
        return doc


class AlertsCollection(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op(
            "List alerts, newest last event first", "400", params=(*_FILTERS, "limit", "offset")
        )
    }

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        caller = await self._guard(req, TRIAGE)
        criteria = dataclasses.replace(alert_filter(req.get_param), org_scope=caller.scope)
        page = await asyncio.to_thread(self._alerts.list, criteria)
        resp.media = {
            "total": page.total,
            "alerts": [to_document(a) | {"version": a.version} for a in page.alerts],
        }


class AlertItem(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "get": _op("An alert with links to its audit events and its response actions", "404"),
        "patch": _op(
            "Change status (closing needs a reason), assignee or tags; If-Match pins the version",
            "400",
            "404",
            "409",
            body=CHANGE_SCHEMA,
        ),
    }

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, alert_id: str
    ) -> None:
        caller = await self._guard(req, TRIAGE)
        alert = await asyncio.to_thread(self._alerts.get, alert_id, caller.scope)
        resp.media = await asyncio.to_thread(self._detail, alert, resp)

    async def on_patch(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, alert_id: str
    ) -> None:
        caller = await self._guard(req, TRIAGE)
        change = parse_change(await req.get_media(), req.get_header("If-Match"))
        alert = await asyncio.to_thread(
            self._alerts.update, alert_id, caller.name, change, caller.scope
        )
        resp.media = await asyncio.to_thread(self._detail, alert, resp)


class AlertNotes(_Base):
    openapi: ClassVar[dict[str, Any]] = {
        "post": _op(
            "Append a note (author and time recorded; notes are never edited)",
            "400",
            "404",
            body=NOTE_SCHEMA,
        )
    }

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, alert_id: str
    ) -> None:
        caller = await self._guard(req, TRIAGE)
        text = (await req.get_media())["text"]
        alert = await asyncio.to_thread(
            self._alerts.add_note, alert_id, caller.name, text, caller.scope
        )
        resp.status = falcon.HTTP_201
        resp.media = await asyncio.to_thread(self._detail, alert, resp)


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
        "get": _op("Response actions, newest first", "400", params=("state", "alert_id", "limit")),
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


def add_routes(
    api: Router,
    alerts: AlertService,
    responses: ResponseService | None,
    guard: Guard,
    *,
    base_url: str = "",
) -> None:
    """Mount ``/siem/alerts…`` and, with a response service, ``/siem/actions…``."""
    api.add_route("/siem/alerts", AlertsCollection(alerts, responses, guard, base_url))
    api.add_route("/siem/alerts/{alert_id}", AlertItem(alerts, responses, guard, base_url))
    api.add_route("/siem/alerts/{alert_id}/notes", AlertNotes(alerts, responses, guard, base_url))
    if responses is not None:
        api.add_route("/siem/actions", ActionsCollection(responses, alerts, guard))
        approve = ActionApprove(responses, alerts, guard)
        api.add_route("/siem/actions/{action_id}/approve", approve)
        api.add_route("/siem/actions/{action_id}/reject", ActionReject(responses, alerts, guard))
