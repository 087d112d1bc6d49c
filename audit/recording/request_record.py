"""The API middleware's per-request record: what the request path builds, the spool keeps, and
the shipper expands into the canonical event.

Why a record of its own rather than an :class:`audit.model.AuditEvent`: the middleware audits
every request, and validating an event object and writing its canonical JSON on the request path
costs as much as a small request itself. So the middleware fills a :class:`RequestRecord` (plain
values, no validation), the recorder commits it to the spool as one flat JSON array
(:func:`encode`), the records of one group commit in one row (:func:`group`), and the shipper
expands them into canonical documents when it reads the spool (:func:`expand_group`). That is the
record's only stored form. Even the event id is derived there (:func:`derived_event_id`), from
the spool's secret salt and the record's sequence, so the request path draws no randomness.

Nothing is lost by expanding late: every fact is in the spool, per its fsync policy, before the
response leaves, and :func:`expand_group` is a pure function of the stored bytes, the salt and the
sequence, so a redelivery after a crash yields byte-identical documents with the same ids (same
Merkle leaves, stored once). The stored facts are bounded in size on encoding; normalisation
(IP validation, role order, lone surrogates) happens on expansion.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import ipaddress
import json
import json.encoder
from collections.abc import Callable, Sequence
from typing import Any, Final

from audit.errors import AuditEventInvalid
from audit.ids import uuid7
from audit.model import ECS_VERSION, SCHEMA_VERSION, format_timestamp

#: First element of every compact payload: the layout version.
LAYOUT: Final = "r1"
#: Payloads start with these bytes; canonical documents start with ``{``.
PREFIX: Final = b'["r1",'
#: Spool rows of grouped payloads start with these bytes.
GROUP_PREFIX: Final = b"[" + PREFIX
STREAM: Final = "api"

_FAILURE_FROM: Final = 400
_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
#: Bounds applied on encoding, so a stored payload stays small whatever the client sent.
MAX_PATH: Final = 2048
MAX_USER_AGENT: Final = 512
MAX_TRACE_ID: Final = 128
MAX_METHOD: Final = 32
MAX_TEXT: Final = 1024
_MAX_ROLES: Final = 64

_FIELDS: Final = 15  # the length of an "r1" payload
_TIME_US: Final = 2  # where its time is

_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
_escape: Callable[[str], str] = json.encoder.encode_basestring  # as the canonical writer does
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_TIME_US: Final = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


@dataclasses.dataclass(slots=True)
class RequestRecord:
    """One audited API request, as the middleware saw it (who, what, outcome, latency).

    Not frozen and not validated: it is built once per request from values the ASGI server and
    the token verifier already checked, and only :func:`encode` reads it (bounding every text).
    ``user_agent`` may be the raw header bytes (read as Latin-1, as ASGI servers do).
    """

    service: str
    time_us: int
    method: str
    path: str
    route: str
    status: int
    duration_ns: int | None
    client: str
    user_agent: str | bytes
    trace_id: str
    subject: str = ""
    username: str = ""
    roles: Sequence[str] = ()
    org_path: str = ""

    @property
    def stream(self) -> str:
        return STREAM


def record_from_principal(  # noqa: PLR0917 - one positional call per request, the hot path
    service: str,
    time_us: int,
    method: str,
    path: str,
    route: str,
    status: int,
    duration_ns: int | None,
    client: str,
    user_agent: str | bytes,
    trace_id: str,
    principal: Any,
) -> RequestRecord:
    """A record whose user facts are read by attribute name (``subject``, ``username``,
    ``roles``, ``org_path``) from ``principal`` (``None``: anonymous): ``audit`` does not
    import ``iam``."""
    if principal is None:
        return RequestRecord(service, time_us, method, path, route, status, duration_ns, client,
                             user_agent, trace_id)  # fmt: skip
    return RequestRecord(
        service, time_us, method, path, route, status, duration_ns, client, user_agent, trace_id,
        str(getattr(principal, "subject", "") or ""),
        str(getattr(principal, "username", "") or ""),
        tuple(map(str, getattr(principal, "roles", ()) or ())),
        str(getattr(principal, "org_path", "") or ""),
    )  # fmt: skip


def encode(record: RequestRecord) -> bytes:
    """The record's spool payload: a flat JSON array (ASCII, so any path is storable).

    Written out with the C string escaper rather than through ``json.dumps`` (cheaper: this
    runs once per request, on the group commit). :func:`expand_group` reads it with ``json.loads``.
    """
    q = _quote
    r = record
    agent = r.user_agent
    if isinstance(agent, bytes):
        agent = agent.decode("latin-1")
    roles_json = ",".join([q(str(role)[:MAX_TEXT]) for role in tuple(r.roles)[:_MAX_ROLES]])
    duration = "null" if r.duration_ns is None else int(r.duration_ns)
    return (
        f'["{LAYOUT}",{q(str(r.service)[:64])},{int(r.time_us)},{q(str(r.method)[:MAX_METHOD])},'
        f"{q(str(r.path)[:MAX_PATH])},{int(r.status)},{q(str(r.route)[:MAX_PATH])},{duration},"
        f"{q(str(r.client)[:64])},{q(str(agent or '')[:MAX_USER_AGENT])},"
        f"{q(str(r.trace_id)[:MAX_TRACE_ID])},{q(str(r.subject)[:MAX_TEXT])},"
        f"{q(str(r.username)[:MAX_TEXT])},[{roles_json}],{q(str(r.org_path)[:MAX_PATH])}]"
    ).encode("ascii")


def group(payloads: Sequence[bytes]) -> bytes:
    """One spool row for the payloads of one group commit (a JSON array of them).

    A group is stored, read, shipped and acknowledged as a unit: one row insert per group
    instead of one per request, on the request path.
    """
    return b"[" + b",".join(payloads) + b"]"


def is_group(document: bytes) -> bool:
    return document.startswith(GROUP_PREFIX)


def derived_event_id(salt: bytes, stream: str, sequence: int, time_us: int) -> str:
    """The event id of a grouped record: a UUIDv7 (RFC 9562 §5.7) whose 74 "random" bits are a
    keyed hash of the record's place in the spool, so every read of the row gives the same id
    (redelivery stays exactly-once in the store) and the request path draws no randomness.

    ``salt`` is the spool's own random secret: ids of different spools never collide.
    """
    digest = hashlib.blake2b(f"{stream}\x00{sequence}".encode(), key=salt, digest_size=10).digest()
    return uuid7(time_us // 1000, int.from_bytes(digest) >> 6)  # 80 bits -> 74


@dataclasses.dataclass(frozen=True, slots=True)
class Expanded:
    """One request record as the shipper delivers it."""

    event_id: str
    timestamp: str
    document: bytes
    #: ``json.loads(document)``, the object it was written from: the store and the streaming
    #: detections take it instead of parsing the document again
    #: (:attr:`audit.ports.RawDocument.parsed`). Read only.
    parsed: dict[str, Any]


def expand_group(
    document: bytes, salt: bytes, stream: str, first_sequence: int, count: int
) -> list[Expanded]:
    """The expanded records of a group row, in order.

    Raises :class:`AuditEventInvalid` for bytes that are not a group of ``count`` compact
    payloads.
    """
    try:
        records: list[Any] = json.loads(document)
    except ValueError as exc:
        raise AuditEventInvalid("A compact spool row is not readable.") from exc
    if not isinstance(records, list) or len(records) != count:
        raise AuditEventInvalid(f"A compact spool row does not hold its {count} records.")
    out = []
    for offset, fields in enumerate(records):
        sequence = first_sequence + offset
        time_us = fields[_TIME_US] if isinstance(fields, list) and len(fields) == _FIELDS else 0
        event_id = derived_event_id(salt, stream, sequence, _int(time_us))
        out.append(_event(fields, event_id, stream, sequence))
    return out


def _event(fields: Any, event_id: str, stream: str, sequence: int) -> Expanded:
    try:
        (layout, service, time_us, method, path, status, route, duration_ns, client, agent,
         trace_id, subject, username, roles, org_path) = fields  # fmt: skip
    except (ValueError, TypeError) as exc:
        raise AuditEventInvalid("A compact spool record is not readable.") from exc
    if layout != LAYOUT:
        raise AuditEventInvalid(f"Unknown compact spool layout {layout!r}.")
    method = _text(method, MAX_METHOD)
    org = _text(org_path, MAX_PATH)
    role_names = (
        sorted(_text(r, MAX_TEXT) for r in roles if isinstance(r, str))
        if isinstance(roles, list)
        else []
    )
    facts: dict[str, Any] = {
        "timestamp": _timestamp(_int(time_us)),
        "event_id": event_id,
        "stream": stream,
        "sequence": sequence,
        "service": _text(service, 64) or "anbao",
        "action": f"api.{method.lower()}" if method in _METHODS else "api.other",
        "method": method,
        "path": _text(path, MAX_PATH),
        "status": _int(status),
        "route": _text(route, MAX_PATH),
        "duration": max(_int(duration_ns), 0) if duration_ns is not None else None,
        "ip": _ip(client),
        "agent": _text(agent, MAX_USER_AGENT),
        "trace_id": _text(trace_id, MAX_TRACE_ID),
        "user": (_text(subject, MAX_TEXT), _text(username, MAX_TEXT), role_names),
        "org": org if org.startswith("/") else "",
    }
    return Expanded(event_id, facts["timestamp"], _render(**facts), _object(**facts))


def _timestamp(time_us: int) -> str:
    """``format_timestamp`` of a time in µs since the epoch (clamped to years 1970-9999)."""
    time_us = min(max(time_us, 0), _MAX_TIME_US)
    seconds, micros = divmod(time_us, 1_000_000)
    return f"{_second(seconds)}.{micros:06d}Z"


@functools.lru_cache(maxsize=256)  # the requests of one second share their formatting
def _second(seconds: int) -> str:
    return format_timestamp(_EPOCH + dt.timedelta(seconds=seconds))[:19]


def _render(
    *,
    timestamp: str,
    event_id: str,
    stream: str,
    sequence: int,
    service: str,
    action: str,
    method: str,
    path: str,
    status: int,
    route: str,
    duration: int | None,
    ip: str,
    agent: str,
    trace_id: str,
    user: tuple[str, str, list[str]],
    org: str,
) -> bytes:
    """The canonical bytes of a request event, written out directly.

    Exactly ``AuditEvent(...).canonical_bytes()`` of the same facts (a property test checks it
    byte for byte): the shipper expands every API request, and building the event object and
    walking the generic writer cost several times this. Keys in code-point order, empty values
    left out, strings through the standard library's C escaper.
    """
    q = _escape
    failed = status >= _FAILURE_FROM
    out = [
        f'{{"@timestamp":{q(timestamp)},"anbao":{{"schema_version":{SCHEMA_VERSION},'
        f'"sequence":{sequence},"stream":{q(stream)}}},"ecs":{{"version":{q(ECS_VERSION)}}},'
        f'"event":{{"action":{q(action)},"category":["web","api"]'
    ]
    if duration is not None:
        out.append(f',"duration":{duration}')
    out.append(f',"id":{q(event_id)},"kind":"event",')
    if failed:
        out.append(f'"outcome":"failure","reason":"HTTP {status}","type":["access","denied"]}}')
    else:
        out.append('"outcome":"success","type":["access"]}')
    request = f'"request":{{"method":{q(method)}}},' if method else ""
    out.append(f',"http":{{{request}"response":{{"status_code":{status}}}}}')
    if org:
        out.append(f',"organization":{{"path":{q(org)}}}')
    if route:
        out.append(f',"resource":{{"id":{q(route)},"type":"route"}}')
    out.append(f',"service":{{"name":{q(service)}}}')
    if ip:
        out.append(f',"source":{{"ip":{q(ip)}}}')
    if trace_id:
        out.append(f',"trace":{{"id":{q(trace_id)}}}')
    if path:
        out.append(f',"url":{{"path":{q(path)}}}')
    subject, username, roles = user
    who = [
        f'"{key}":{value}'
        for key, value in (
            ("id", q(subject) if subject else ""),
            ("name", q(username) if username else ""),
            ("roles", "[" + ",".join(map(q, roles)) + "]" if roles else ""),
        )
        if value
    ]
    if who:
        out.append(',"user":{' + ",".join(who) + "}")
    if agent:
        out.append(f',"user_agent":{{"original":{q(agent)}}}')
    out.append("}")
    return "".join(out).encode("utf-8")


def _object(
    *,
    timestamp: str,
    event_id: str,
    stream: str,
    sequence: int,
    service: str,
    action: str,
    method: str,
    path: str,
    status: int,
    route: str,
    duration: int | None,
    ip: str,
    agent: str,
    trace_id: str,
    user: tuple[str, str, list[str]],
    org: str,
) -> dict[str, Any]:
    """What ``json.loads`` gives for :func:`_render`'s bytes (a property test checks it)."""
    failed = status >= _FAILURE_FROM
    event: dict[str, Any] = {
        "action": action,
        "category": ["web", "api"],
        "id": event_id,
        "kind": "event",
        "outcome": "failure" if failed else "success",
        "type": ["access", "denied"] if failed else ["access"],
    }
    if failed:
        event["reason"] = f"HTTP {status}"
    if duration is not None:
        event["duration"] = duration
    http: dict[str, Any] = {"response": {"status_code": status}}
    if method:
        http["request"] = {"method": method}
    doc: dict[str, Any] = {
        "@timestamp": timestamp,
        "anbao": {"schema_version": SCHEMA_VERSION, "sequence": sequence, "stream": stream},
        "ecs": {"version": ECS_VERSION},
        "event": event,
        "http": http,
        "service": {"name": service},
    }
    if org:
        doc["organization"] = {"path": org}
    if route:
        doc["resource"] = {"id": route, "type": "route"}
    if ip:
        doc["source"] = {"ip": ip}
    if trace_id:
        doc["trace"] = {"id": trace_id}
    if path:
        doc["url"] = {"path": path}
    subject, username, roles = user
    who = {k: v for k, v in (("id", subject), ("name", username), ("roles", roles)) if v}
    if who:
        doc["user"] = who
    if agent:
        doc["user_agent"] = {"original": agent}
    return doc


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
    return _normal_ip(value)


@functools.lru_cache(maxsize=4096)  # requests come from few addresses; parsing is not free
def _normal_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""
