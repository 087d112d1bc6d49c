"""The API middleware's per-request event: as captured, as spooled, and its expansion.

Why it exists: the middleware audits every request, and building an :class:`AuditEvent` plus its
canonical JSON costs more CPU than a small request itself (bench/audit.py measured the service at
a third of its rate). So on the request path the middleware only captures the raw facts
(:func:`capture_request`, or the same in C, :data:`capture_native`: ``marshal`` bytes of a flat
tuple, kept by the request journal); the spool stores them as one flat JSON array (:func:`encode`;
:func:`from_capture` converts, when the shipper moves journal records into the spool) in
:class:`audit.recording.spool.CompactRecord` rows, the records of one group commit in one row
(:func:`group`).
The shipper expands them into canonical events when it reads the spool (:func:`expand_group`),
off the serving process when ``audit.ship_in_subprocess`` is on; even the event id is derived
there (:func:`derived_event_id`), from the spool's secret salt and the record's sequence.

Nothing is lost by deferring: every fact is captured before the response leaves and committed to
the spool per its fsync policy, and :func:`expand_group` is a pure function of the stored bytes,
the salt and the sequence, so a redelivery after a crash yields byte-identical documents with the
same ids (same Merkle leaves, stored once). Normalisation (IP validation, length bounds, role
order, lone surrogates) happens on expansion, so the stored facts are exactly what the request
carried, bounded in size.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import json
import json.encoder
import marshal
from collections.abc import Callable, Sequence
from typing import Any, Final

from audit.errors import AuditEventInvalid
from audit.ids import uuid7
from audit.model import ECS_VERSION, SCHEMA_VERSION, format_timestamp
from audit.native import native as _native

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
#: Bounds applied on capture, so a stored payload stays small whatever the client sent.
MAX_PATH: Final = 2048
MAX_USER_AGENT: Final = 512
MAX_TRACE_ID: Final = 128
MAX_METHOD: Final = 32
MAX_TEXT: Final = 1024

_FIELDS: Final = 15  # the length of an "r1" payload
_TIME_US: Final = 2  # where its time is

#: First element of a captured record (the request journal's form, :func:`capture`).
CAPTURE: Final = "c1"
#: ``marshal``'s format 4 (Python 3.4 onwards), named so a later default cannot change it.
_MARSHAL_VERSION: Final = 4
#: A captured record longer than this is captured again with its fields bounded.
MAX_CAPTURE: Final = 8 << 10
_CAPTURE_FIELDS: Final = 12
_PRINCIPAL_FIELDS: Final = 4

_dumps = marshal.dumps
_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
_escape: Callable[[str], str] = json.encoder.encode_basestring  # as the canonical writer does
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
    """The payload of one request's event: a flat JSON array (ASCII, so any path is storable).

    Written out with the C string escaper rather than through ``json.dumps``: half the cost, and
    this runs once per request. :func:`expand_group` reads it with ``json.loads``.
    """
    q = _quote
    roles_json = ",".join([q(r[:MAX_TEXT]) for r in roles[:64]])
    duration = "null" if duration_ns is None else int(duration_ns)
    return (
        f'["{LAYOUT}",{q(service)},{int(time_us)},{q(method[:MAX_METHOD])},{q(path[:MAX_PATH])},'
        f"{int(status)},{q(route[:MAX_PATH])},{duration},{q(client[:64])},"
        f"{q(user_agent[:MAX_USER_AGENT])},{q(trace_id[:MAX_TRACE_ID])},{q(subject[:MAX_TEXT])},"
        f"{q(username[:MAX_TEXT])},[{roles_json}],{q(org_path[:MAX_PATH])}]"
    ).encode("ascii")


Facts = tuple[Any, ...]


def capture_request(  # noqa: PLR0917 - the native function's signature
    service: str,
    time_ns: int,
    method: str,
    path: str,
    route: str,
    status: int,
    duration_ns: int | None,
    client: str,
    user_agent: str | bytes | None,
    trace_id: str,
    principal: Any,
) -> bytes:
    """:func:`capture` of a request's facts, the principal read by attribute name (``subject``,
    ``username``, ``roles``, ``org_path``). :data:`capture_native` does the same in C."""
    who = None if principal is None else _principal_facts(principal)
    return capture((CAPTURE, service, time_ns, method, path, route, status, duration_ns, client,
                    user_agent, trace_id, who))  # fmt: skip


def _principal_facts(principal: Any) -> tuple[str, str, tuple[str, ...], str]:
    return (
        str(getattr(principal, "subject", "") or ""),
        str(getattr(principal, "username", "") or ""),
        tuple(map(str, getattr(principal, "roles", ()) or ())),
        str(getattr(principal, "org_path", "") or ""),
    )


def _no_native(*_facts: object) -> None:
    return None


#: :func:`capture_request` in C (``audit/_capture.c``), a fifth of its cost; ``None`` for values
#: it leaves to :func:`capture_request` (not of an exact builtin type, or too long to keep
#: whole). Without the compiled module (built at install) it always returns ``None``.
capture_native: Callable[..., bytes | None] = _native.capture if _native else _no_native


def capture(facts: Facts) -> bytes:
    """A request's facts as the request journal keeps them: ``marshal`` bytes of a flat tuple.

    ``(CAPTURE, service, time_ns, method, path, route, status, duration_ns, client, user_agent,
    trace_id, principal)``, ``principal`` being ``None`` or ``(subject, username, roles,
    org_path)``; ``user_agent`` may be the raw header bytes. Why ``marshal``: it is one C call,
    a fifth of the JSON writer of :func:`encode`, and this runs on every request inside the
    serving process, where the request's own work is a few tens of µs. Its bytes are read back
    only by :func:`from_capture`, from a CRC-checked frame of a file only this service's user
    can write (``audit.recording.journal``), and only as plain builtin values (checked there); they live
    seconds, until the shipper moves them into the spool as :func:`encode`'s JSON.
    """
    try:
        payload = _dumps(facts, _MARSHAL_VERSION)
    except ValueError:  # a value of a subclass (marshal takes exact builtin types only)
        return _dumps(_bounded(facts), _MARSHAL_VERSION)
    if len(payload) > MAX_CAPTURE:
        return _dumps(_bounded(facts), _MARSHAL_VERSION)
    return payload


def _bounded(facts: Facts) -> Facts:
    """The facts with every text cut to its bound and every value of a builtin type."""
    (layout, service, time_ns, method, path, route, status, duration_ns, client, agent,
     trace_id, principal) = facts  # fmt: skip
    who = None
    if principal is not None:
        subject, username, roles, org = principal
        who = (
            _plain(subject, MAX_TEXT),
            _plain(username, MAX_TEXT),
            tuple(_plain(r, MAX_TEXT) for r in tuple(roles)[:64]),
            _plain(org, MAX_PATH),
        )
    return (
        str(layout), _plain(service, 64), int(time_ns), _plain(method, MAX_METHOD),
        _plain(path, MAX_PATH), _plain(route, MAX_PATH), int(status),
        None if duration_ns is None else int(duration_ns), _plain(client, 64),
        _plain(agent, MAX_USER_AGENT), _plain(trace_id, MAX_TRACE_ID), who,
    )  # fmt: skip


def _plain(value: object, limit: int) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")  # how ASGI servers and Falcon read header values
    return str(value or "")[:limit]


def from_capture(payload: bytes) -> bytes:
    """The compact spool payload (:func:`encode`) of a captured record (:func:`capture`).

    Raises :class:`AuditEventInvalid` for bytes that are not a captured record.
    """
    try:
        facts = marshal.loads(payload)  # noqa: S302 - our own frames only; see capture()
    except (ValueError, EOFError, TypeError) as exc:
        raise AuditEventInvalid("A captured request record is not readable.") from exc
    if not (type(facts) is tuple and len(facts) == _CAPTURE_FIELDS and facts[0] == CAPTURE):
        raise AuditEventInvalid("Not a captured request record.")
    (_, service, time_ns, method, path, route, status, duration_ns, client, agent, trace_id,
     principal) = facts  # fmt: skip
    subject = username = org = ""
    roles: Sequence[str] = ()
    if principal is not None:
        if type(principal) is not tuple or len(principal) != _PRINCIPAL_FIELDS:
            raise AuditEventInvalid("A captured request record's principal is not readable.")
        subject, username, roles, org = principal
        roles = roles if type(roles) is tuple else ()
    return encode(
        service=_str(service),
        time_us=_int(time_ns) // 1000,
        method=_str(method),
        path=_str(path),
        status=_int(status),
        route=_str(route),
        duration_ns=duration_ns if duration_ns is None else _int(duration_ns),
        client=_str(client),
        user_agent=_str(agent),
        trace_id=_str(trace_id),
        subject=_str(subject),
        username=_str(username),
        roles=[r for r in roles if type(r) is str],
        org_path=_str(org),
    )


def compact_form(payload: bytes) -> bytes:
    """A request journal's record as the spool stores it: captured ones turned into
    :func:`encode`'s form, compact ones as they are."""
    return payload if payload.startswith(PREFIX) else from_capture(payload)


def _str(value: object) -> str:
    if type(value) is bytes:
        return value.decode("latin-1")
    return value if type(value) is str else ""


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


def expand_group(
    document: bytes, salt: bytes, stream: str, first_sequence: int, count: int
) -> list[tuple[str, str, bytes]]:
    """``(event id, @timestamp, canonical bytes)`` of each record of a group row, in order.

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
        out.append((event_id, *_event(fields, event_id, stream, sequence)))
    return out


def _event(fields: Any, event_id: str, stream: str, sequence: int) -> tuple[str, bytes]:
    try:
        (layout, service, time_us, method, path, status, route, duration_ns, client, agent,
         trace_id, subject, username, roles, org_path) = fields  # fmt: skip
    except (ValueError, TypeError) as exc:
        raise AuditEventInvalid("A compact spool record is not readable.") from exc
    if layout != LAYOUT:
        raise AuditEventInvalid(f"Unknown compact spool layout {layout!r}.")
    timestamp = format_timestamp(
        _EPOCH + dt.timedelta(microseconds=min(max(_int(time_us), 0), _MAX_TIME_US))
    )
    method = _text(method, MAX_METHOD)
    org = _text(org_path, MAX_PATH)
    role_names = (
        sorted(_text(r, MAX_TEXT) for r in roles if isinstance(r, str))
        if (isinstance(roles, list))
        else []
    )
    document = _render(
        timestamp=timestamp,
        event_id=event_id,
        stream=stream,
        sequence=sequence,
        service=_text(service, 64) or "anbao",
        action=f"api.{method.lower()}" if method in _METHODS else "api.other",
        method=method,
        path=_text(path, MAX_PATH),
        status=_int(status),
        route=_text(route, MAX_PATH),
        duration=max(_int(duration_ns), 0) if duration_ns is not None else None,
        ip=_ip(client),
        agent=_text(agent, MAX_USER_AGENT),
        trace_id=_text(trace_id, MAX_TRACE_ID),
        user=(_text(subject, MAX_TEXT), _text(username, MAX_TEXT), role_names),
        org=org if org.startswith("/") else "",
    )
    return timestamp, document


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
    walking the generic writer cost it about 40 µs an event; this is a few. Keys in code-point
    order, empty values left out, strings through the standard library's C escaper.
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


@functools.lru_cache(maxsize=4096)  # requests come from few addresses; parsing one is ~3 µs
def _normal_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""
