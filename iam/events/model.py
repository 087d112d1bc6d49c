"""Keycloak events as ECS-style dicts, and the read cursor that keeps the stream gap- and repeat-free.

Field names follow the Elastic Common Schema 8.x (``@timestamp``, ``event.*``, ``user.*``,
``source.ip``); what ECS has no field for goes under ``keycloak.*`` (realm, client, original
type, resource path). Keycloak records event time in milliseconds; several events can share a
millisecond, so the cursor keeps, besides the newest time read, the ids read in a trailing
window (``overlap_ms``): the next read starts ``overlap_ms`` before the newest time and drops
the ids already seen. That also absorbs events committed a little after later ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

LOGIN_STREAM = "login"
ADMIN_STREAM = "admin"
_REDACT_EXACT = frozenset({"value", "credentials", "token", "privatekey", "challenge"})
_REDACT_SUFFIXES = ("secret", "password", "accesstoken", "refreshtoken", "idtoken")

#: Login event types about changing an account rather than signing in (ECS category ``iam``).
_IAM_TYPES = frozenset(
    {
        "UPDATE_PASSWORD", "UPDATE_CREDENTIAL", "REMOVE_CREDENTIAL", "UPDATE_TOTP", "REMOVE_TOTP",
        "RESET_PASSWORD", "UPDATE_PROFILE", "REGISTER", "DELETE_ACCOUNT", "UPDATE_EMAIL",
        "FEDERATED_IDENTITY_LINK", "REMOVE_FEDERATED_IDENTITY", "IDENTITY_PROVIDER_LINK_ACCOUNT",
        "USER_DISABLED_BY_TEMPORARY_LOCKOUT", "USER_DISABLED_BY_PERMANENT_LOCKOUT",
        "GRANT_CONSENT", "REVOKE_GRANT",
    }
)  # fmt: skip
_ADMIN_TYPES = {"CREATE": "creation", "UPDATE": "change", "DELETE": "deletion", "ACTION": "change"}


@dataclasses.dataclass(frozen=True, slots=True)
class Cursor:
    """Newest event time read (ms since the epoch) and the ids read in the trailing window."""

    time_ms: int = 0
    seen: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def advance(self, events: list[Mapping[str, Any]], overlap_ms: int) -> Cursor:
        """The cursor after ``events`` were delivered; ids older than the window are dropped."""
        newest = max([self.time_ms, *(int(e.get("time", 0)) for e in events)])
        seen = {**self.seen, **{event_key(e): int(e.get("time", 0)) for e in events}}
        horizon = newest - overlap_ms
        return Cursor(newest, {k: t for k, t in seen.items() if t >= horizon})

    def merge(self, other: Cursor) -> Cursor:
        """The cursor that has read what either has: the newer time, the ids of both windows
        (an id in both keeps its later time; the next :meth:`advance` prunes the window)."""
        seen = dict(self.seen)
        for key, when in other.seen.items():
            seen[key] = max(when, seen.get(key, when))
        return Cursor(max(self.time_ms, other.time_ms), seen)

    def to_json(self) -> str:
        """The stored form (the cursor the audit spool keeps beside the events)."""
        return json.dumps({"time_ms": self.time_ms, "seen": dict(self.seen)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        """Back from :meth:`to_json`; ``ValueError``, ``KeyError`` or ``TypeError`` otherwise."""
        raw = json.loads(text)
        return cls(int(raw["time_ms"]), {str(k): int(v) for k, v in dict(raw["seen"]).items()})


def event_key(event: Mapping[str, Any]) -> str:
    """Keycloak's event id; older servers had none, so fall back to the canonical JSON."""
    key = event.get("id")
    if isinstance(key, str) and key:
        return key
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


def _timestamp(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _action(name: str) -> str:
    return name.lower().replace("_", "-")


def _prune(value: dict[str, Any]) -> dict[str, Any]:
    """Drop empty leaves so consumers see only what Keycloak said."""
    out: dict[str, Any] = {}
    for key, raw in value.items():
        item = _prune(raw) if isinstance(raw, dict) else raw
        if item not in (None, "", {}, []):
            out[key] = item
    return out


def login_event_to_ecs(event: Mapping[str, Any], realm: str) -> dict[str, Any]:
    """A Keycloak user event (``/admin/realms/{realm}/events``) as an ECS document."""
    kind = str(event.get("type", "UNKNOWN"))
    failed = kind.endswith("_ERROR") or bool(event.get("error"))
    base = kind.removesuffix("_ERROR")
    details = dict(event.get("details") or {})
    if base in _IAM_TYPES:
        category, types = ["iam"], ["user", "change"]
    else:
        category = ["authentication"]
        types = ["start"] if base == "LOGIN" else ["end"] if base == "LOGOUT" else ["info"]
    return _prune(
        {
            "@timestamp": _timestamp(int(event.get("time", 0))),
            "event": {
                "id": event_key(event),
                "kind": "event",
                "module": "keycloak",
                "dataset": "keycloak.event",
                "provider": "keycloak",
                "category": category,
                "type": types,
                "action": _action(base),
                "outcome": "failure" if failed else "success",
                "reason": event.get("error"),
            },
            # A refused refresh names its user only as the refresh token's subject.
            "user": {
                "id": event.get("userId") or details.get("refresh_token_sub"),
                "name": details.get("username"),
            },
            "source": {"ip": event.get("ipAddress")},
            "error": {"code": event.get("error")},
            "keycloak": {
                "realm": realm,
                "realm_id": event.get("realmId"),
                "client_id": event.get("clientId"),
                "session_id": event.get("sessionId"),
                "type": kind,
                "details": _redacted(details),
            },
        }
    )


def admin_event_to_ecs(event: Mapping[str, Any], realm: str) -> dict[str, Any]:
    """A Keycloak admin event (``/admin/realms/{realm}/admin-events``) as an ECS document."""
    operation = str(event.get("operationType", "ACTION"))
    resource = str(event.get("resourceType", "UNKNOWN"))
    path = str(event.get("resourcePath", ""))
    auth = dict(event.get("authDetails") or {})
    target: dict[str, Any] = {}
    if resource == "USER" and path.startswith("users/"):
        target = {"id": path.split("/")[1]}
    types = ["admin", _ADMIN_TYPES.get(operation, "change")]
    if resource in ("USER", "GROUP"):
        types.append(resource.lower())
    return _prune(
        {
            "@timestamp": _timestamp(int(event.get("time", 0))),
            "event": {
                "id": event_key(event),
                "kind": "event",
                "module": "keycloak",
                "dataset": "keycloak.admin",
                "provider": "keycloak",
                "category": ["iam"],
                "type": types,
                "action": f"{_action(resource)}-{_action(operation)}",
                "outcome": "failure" if event.get("error") else "success",
                "reason": event.get("error"),
            },
            "user": {"id": auth.get("userId"), "target": target},
            "source": {"ip": auth.get("ipAddress")},
            "keycloak": {
                "realm": realm,
                "realm_id": event.get("realmId"),
                "client_id": auth.get("clientId"),
                "auth_realm_id": auth.get("realmId"),
                "type": f"{resource}_{operation}",
                "resource_type": resource,
                "resource_path": path,
                "representation": _representation(event.get("representation")),
                # Keycloak 26: e.g. credential_type of a deleted credential
                "details": _redacted(dict(event.get("details") or {})),
            },
        }
    )


def _representation(raw: Any) -> Any:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return _redacted(parsed)


def _sensitive(key: str) -> bool:
    lowered = key.lower().replace("_", "").replace("-", "").replace(".", "")
    return lowered in _REDACT_EXACT or lowered.endswith(_REDACT_SUFFIXES)


def _redacted(value: Any) -> Any:
    """Secrets never leave: keys that name a secret, password, credential or token are masked."""
    if isinstance(value, dict):
        return {k: "[redacted]" if _sensitive(str(k)) else _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value
