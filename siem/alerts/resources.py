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
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final, Protocol

import falcon
import falcon.asgi

from siem.alerts.codec import parse_time, to_document
from siem.alerts.errors import InvalidAlertInput
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
from siem.model import Severity

SECURITY_ANALYST: Final = "security-analyst"
PLATFORM_ADMIN: Final = "platform-admin"
TRIAGE: Final = frozenset({SECURITY_ANALYST})
DECIDE: Final = frozenset({SECURITY_ANALYST, PLATFORM_ADMIN})

#: ``await guard(request, roles of which the caller needs one)``: the caller (user name from
#: the verified token, live org scope); raises 401/403.
Guard = Callable[[falcon.asgi.Request, frozenset[str]], Awaitable[Caller]]
#: An alert's response actions as JSON (``siem.responses`` answers; alerts do not import it).
ActionsOf = Callable[[str], list[dict[str, Any]]]

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


def _op(
    summary: str,
    *errors: str,
    params: tuple[str, ...] = (),
    body: dict[str, Any] | None = None,
    schemas: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An OpenAPI operation of siem's routes; ``schemas`` adds query parameters of a caller's own."""
    known = _PARAMS | (schemas or {})
    op: dict[str, Any] = {
        "summary": summary,
        "tags": _TAGS,
        "responses": {"200": {"description": "OK", "content": _JSON}}
        | {e: {"description": "Error (problem+json)"} for e in ("403", *errors)},
    }
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "required": False, "schema": known.get(p, _TEXT_PARAM)}
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
        self,
        alerts: AlertService,
        actions_of: ActionsOf | None,
        guard: Guard,
        base_url: str,
    ) -> None:
        self._alerts = alerts
        self._actions_of = actions_of
        self._guard = guard
        self._base_url = base_url

    def _detail(self, alert: Alert, resp: falcon.asgi.Response) -> dict[str, Any]:
        resp.set_header("ETag", f'"{alert.version}"')
        doc = to_document(alert) | {
            "version": alert.version,
            "links": audit_links(alert, self._base_url),
        }
        doc.pop("detection_keys", None)
        if self._actions_of is not None:
            doc["actions"] = self._actions_of(alert.id)
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


def add_routes(
    api: Router,
    alerts: AlertService,
    guard: Guard,
    *,
    base_url: str = "",
    actions_of: ActionsOf | None = None,
) -> None:
    """Mount ``/siem/alerts…``; an alert's detail lists its response actions from
    ``actions_of`` (``siem.responses`` mounts ``/siem/actions…`` itself)."""
    api.add_route("/siem/alerts", AlertsCollection(alerts, actions_of, guard, base_url))
    api.add_route("/siem/alerts/{alert_id}", AlertItem(alerts, actions_of, guard, base_url))
    api.add_route("/siem/alerts/{alert_id}/notes", AlertNotes(alerts, actions_of, guard, base_url))
