"""The compact spool form of the API middleware's per-request event, and its expansion.

Why it exists: the middleware audits every request, and building an :class:`AuditEvent` plus its
canonical JSON costs more CPU than a small request itself (bench/audit.py measured the service at
a third of its rate). So on the request path the middleware only captures the raw facts — one C
``json`` call over a flat list — and the spool stores them in that form
(:class:`audit.spool.CompactRecord`). The shipper expands them into the canonical event when it
reads the spool (:func:`expand`), off the serving process when ``audit.ship_in_subprocess`` is on.

Nothing is lost by deferring: every fact is captured before the response leaves and committed to
the spool per its fsync policy, and :func:`expand` is a pure function of the stored bytes, the
event id and the sequence, so a redelivery after a crash yields byte-identical documents (same
Merkle leaves). Normalisation (IP validation, length bounds, role order, lone surrogates) happens
in :func:`expand`, so the stored facts are exactly what the request carried, bounded in size.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Sequence
from typing import Any, Final

from audit.errors import AuditEventInvalid
from audit.model import (
    AuditEvent,
    HttpInfo,
    Outcome,
    ResourceRef,
    UserInfo,
    format_timestamp,
)

#: First element of every compact payload: the layout version.
LAYOUT: Final = "r1"
#: Payloads start with these bytes; canonical documents start with ``{``.
PREFIX: Final = b'["r1",'
STREAM: Final = "api"

_FAILURE_FROM: Final = 400
_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
#: Bounds applied on capture, so a stored payload stays small whatever the client sent.
MAX_PATH: Final = 2048
MAX_USER_AGENT: Final = 512
MAX_TRACE_ID: Final = 128
MAX_METHOD: Final = 32
MAX_TEXT: Final = 1024

_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_TIME_US: Final = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


def encode(
    *,
    service: str,
    time_us: int,
    method: str,
    path: str,
    status: int,
    route: str,
    duration_ns: int | None,
    client: str,
    user_agent: str,
    trace_id: str,
    subject: str,
    username: str,
    roles: Sequence[str],
    org_path: str,
) -> bytes:
    """The payload of one request's event: a flat JSON array (ASCII, so any path is storable)."""
    return _encoder.encode(
        [
            LAYOUT,
            service,
            time_us,
            method[:MAX_METHOD],
            path[:MAX_PATH],
            status,
            route[:MAX_PATH],
            duration_ns,
            client[:64],
            user_agent[:MAX_USER_AGENT],
            trace_id[:MAX_TRACE_ID],
            subject[:MAX_TEXT],
            username[:MAX_TEXT],
            [r[:MAX_TEXT] for r in roles[:64]],
            org_path[:MAX_PATH],
        ]
    ).encode("ascii")


def is_compact(document: bytes) -> bool:
    return document.startswith(PREFIX)


def expand(payload: bytes, event_id: str, stream: str, sequence: int) -> tuple[str, bytes]:
    """``(@timestamp, canonical document bytes)`` of a compact payload; never raises on content.

    Raises :class:`AuditEventInvalid` only for bytes that are not a compact payload at all.
    """
    try:
        fields: list[Any] = json.loads(payload)
        (layout, service, time_us, method, path, status, route, duration_ns, client, agent,
         trace_id, subject, username, roles, org_path) = fields  # fmt: skip
    except (ValueError, TypeError) as exc:
        raise AuditEventInvalid("A compact spool record is not readable.") from exc
    if layout != LAYOUT:
        raise AuditEventInvalid(f"Unknown compact spool layout {layout!r}.")
    status = _int(status)
    method = _text(method, MAX_METHOD)
    failed = status >= _FAILURE_FROM
    timestamp = _EPOCH + dt.timedelta(microseconds=min(max(_int(time_us), 0), _MAX_TIME_US))
    event = AuditEvent.unchecked(
        id=event_id,
        timestamp=timestamp,
        action=f"api.{method.lower()}" if method in _METHODS else "api.other",
        outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
        category=("web", "api"),
        type=("access", "denied") if failed else ("access",),
        reason=f"HTTP {status}" if failed else "",
        duration_ns=max(_int(duration_ns), 0) if duration_ns is not None else None,
        user=UserInfo(
            _text(subject, MAX_TEXT),
            _text(username, MAX_TEXT),
            tuple(sorted(_text(r, MAX_TEXT) for r in roles if isinstance(r, str))),
        ),
        org_path=org if (org := _text(org_path, MAX_PATH)).startswith("/") else "",
        source_ip=_ip(client),
        user_agent=_text(agent, MAX_USER_AGENT),
        service=_text(service, 64) or "anbao",
        trace_id=_text(trace_id, MAX_TRACE_ID),
        http=HttpInfo(method, _text(path, MAX_PATH), status),
        resource=ResourceRef("route", r) if (r := _text(route, MAX_PATH)) else None,
        stream=stream,
        sequence=sequence,
    )
    return format_timestamp(timestamp), event.canonical_bytes()


def _text(value: object, limit: int) -> str:
    """A bounded string with lone surrogates replaced (they have no UTF-8 form)."""
    if not isinstance(value, str):
        return ""
    value = value[:limit]
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _ip(value: object) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""
