"""The audit event: ECS-aligned, versioned, validated at the boundary, canonically serialized.

Why this shape: MLPS 2.0 level 3 (GB/T 22239-2019 §8.1.4.3, L3-CES1-12/13) asks that every audit
record carries *date and time, user, event type, outcome* and other audit-relevant information;
the fields follow the Elastic Common Schema (ECS 8.x) so Kibana and SIEM rules read them unchanged.

Stable contract (colleagues depend on it; only additive changes):

* :class:`AuditEvent` is the in-process value; :meth:`AuditEvent.to_document` gives the nested ECS
  document that the spool, the stores and the Merkle tree see; :func:`event_from_document`
  validates a document back into an event (raises :class:`audit.errors.AuditEventInvalid`).
* :data:`FIELDS` lists every dotted field with its type (the stores' mappings, the query language's
  field list) and whether it is **sensitive** (personal data: encrypted by ``audit.sensitive.masking``,
  masked in search results).
* :func:`canonical_json` is the byte form used for hashing (Merkle leaves): UTF-8 JSON, object keys
  sorted by code point, no insignificant whitespace, no floats, no NaN; empty values are omitted.
  For this value domain (ASCII keys, strings, integers, booleans, lists) it equals the RFC 8785
  (JCS) serialization, so an auditor can recompute it with any JCS implementation.
* ``anbao.stream`` / ``anbao.sequence``: each stream is an append-only log; the sequence number is
  assigned at ingest by the spool (0, 1, 2, ... per stream, no gaps) and orders Merkle leaves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from audit.errors import AuditEventInvalid
from audit.model_codec import canonical_event_bytes

#: Version of this document schema; stored as ``anbao.schema_version`` in every document.
SCHEMA_VERSION: Final = 1
#: ECS version the field names follow.
ECS_VERSION: Final = "8.11.0"
#: Default stream for events that do not name one.
DEFAULT_STREAM: Final = "main"

_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_MAX_TEXT: Final = 4096


class EventKind(enum.StrEnum):
    """ECS ``event.kind`` values used by Anbao (ECS allowed values)."""

    EVENT = "event"
    ALERT = "alert"
    STATE = "state"
    PIPELINE_ERROR = "pipeline_error"


class Outcome(enum.StrEnum):
    """ECS ``event.outcome``: MLPS requires the outcome of every audited action."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


#: ECS ``event.category`` allowed values (subset relevant to Anbao).
CATEGORIES: Final = frozenset(
    {
        "authentication",
        "configuration",
        "database",
        "file",
        "iam",
        "intrusion_detection",
        "network",
        "process",
        "session",
        "web",
        "api",
    }
)
#: ECS ``event.type`` allowed values.
TYPES: Final = frozenset(
    {
        "access",
        "admin",
        "allowed",
        "change",
        "connection",
        "creation",
        "deletion",
        "denied",
        "end",
        "error",
        "group",
        "info",
        "indicator",
        "installation",
        "protocol",
        "start",
        "user",
    }
)


class FieldType(enum.StrEnum):
    """Storage type of a field; drives the ES mapping and the SQLite columns."""

    KEYWORD = "keyword"
    TEXT = "text"
    DATE = "date"
    LONG = "long"
    INTEGER = "integer"
    IP = "ip"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One dotted field of the document."""

    name: str
    type: FieldType
    sensitive: bool = False
    multi: bool = False


def _spec(name: str, kind: FieldType, *, sensitive: bool = False, multi: bool = False) -> FieldSpec:
    return FieldSpec(name, kind, sensitive, multi)


_K, _T, _D, _L, _I = FieldType.KEYWORD, FieldType.TEXT, FieldType.DATE, FieldType.LONG, FieldType.IP

#: Every field of schema version 1, by dotted name. Sensitive = personal data (PIPL art. 28, 51;
#: GB/T 35273-2020 §3.1): encrypted before it leaves the process, masked in search results.
FIELDS: Final[Mapping[str, FieldSpec]] = {
    s.name: s
    for s in (
        _spec("@timestamp", _D),
        _spec("event.id", _K),
        _spec("event.kind", _K),
        _spec("event.category", _K, multi=True),
        _spec("event.type", _K, multi=True),
        _spec("event.action", _K),
        _spec("event.outcome", _K),
        _spec("event.reason", _T),
        _spec("event.duration", _L),
        _spec("user.id", _K),
        _spec("user.name", _K),
        _spec("user.roles", _K, multi=True),
        _spec("organization.path", _K),
        _spec("source.ip", _I),
        _spec("user_agent.original", _T),
        _spec("service.name", _K),
        _spec("trace.id", _K),
        _spec("http.request.method", _K),
        _spec("url.path", _K),
        _spec("http.response.status_code", FieldType.INTEGER),
        _spec("resource.type", _K),
        _spec("resource.id", _K),
        _spec("resource.name", _K),
        _spec("labels", _K),
        _spec("personal.id_number", _K, sensitive=True),
        _spec("personal.phone", _K, sensitive=True),
        _spec("personal.address", _K, sensitive=True),
        _spec("personal.email", _K, sensitive=True),
        _spec("ecs.version", _K),
        _spec("anbao.schema_version", FieldType.INTEGER),
        _spec("anbao.stream", _K),
        _spec("anbao.sequence", _L),
    )
}
#: Dotted names of the sensitive fields.
SENSITIVE_FIELDS: Final = frozenset(n for n, s in FIELDS.items() if s.sensitive)


@dataclasses.dataclass(frozen=True, slots=True)
class UserInfo:
    """Who acted (ECS ``user.*``); ``roles`` are realm roles at the time of the action."""

    id: str = ""
    name: str = ""
    roles: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceRef:
    """What was acted on (``resource.type/id/name``), e.g. ``seal``/``k-17``/``Finance seal``."""

    type: str
    id: str = ""
    name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class HttpInfo:
    """The API request an event describes (ECS ``http.*``, ``url.path``)."""

    method: str
    path: str
    status_code: int


@dataclasses.dataclass(frozen=True, slots=True)
class PersonalData:
    """Personal data carried by an event; every field here is sensitive (see module doc)."""

    id_number: str = ""
    phone: str = ""
    address: str = ""
    email: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit record. ``sequence`` is ``None`` until the spool assigns it at ingest."""

    id: str
    timestamp: dt.datetime
    action: str
    outcome: Outcome
    category: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    kind: EventKind = EventKind.EVENT
    reason: str = ""
    duration_ns: int | None = None
    user: UserInfo = UserInfo()
    org_path: str = ""
    source_ip: str = ""
    user_agent: str = ""
    service: str = "anbao"
    trace_id: str = ""
    http: HttpInfo | None = None
    resource: ResourceRef | None = None
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    personal: PersonalData = PersonalData()
    stream: str = DEFAULT_STREAM
    sequence: int | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def unchecked(cls, **fields: Any) -> AuditEvent:
        """Build without :meth:`__post_init__` validation, defaults filled in.

        Only for a producer whose values are within the schema by construction (the API
        middleware: validated IP, bounded strings, fixed action names) and which runs on
        every request; everything else uses the validating constructor.
        """
        event = object.__new__(cls)
        for f in dataclasses.fields(cls):
            if f.name in fields:
                value = fields[f.name]
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(event, f.name, value)
        return event

    def with_sequence(self, sequence: int, stream: str | None = None) -> AuditEvent:
        """The same event with its ingest sequence number (done by the spool only), in
        ``stream`` when given (the spool's node-qualified name, :func:`node_stream`)."""
        if sequence < 0 or isinstance(sequence, bool):
            raise AuditEventInvalid("anbao.sequence must be a non-negative integer.")
        copy = object.__new__(AuditEvent)
        for name in AuditEvent.__slots__:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "sequence", sequence)
        if stream is not None:
            object.__setattr__(copy, "stream", stream)
        return copy

    def to_document(self) -> dict[str, Any]:
        """The nested ECS document; empty values omitted (see :func:`canonical_json`)."""
        return _to_document(self)

    def canonical_bytes(self) -> bytes:
        """:func:`canonical_json` of :meth:`to_document` (built directly, see ``model_codec``)."""
        return canonical_event_bytes(self, format_timestamp(self.timestamp), ECS_VERSION)


def node_stream(stream: str, node_id: str) -> str:
    """The name under which the node ``node_id`` numbers ``stream``: ``<stream>.<node_id>``.

    In a cluster every node's spool numbers its own streams gap-free (one stream per node), so
    no two nodes ever compete for a sequence number and no lock spans nodes on the ingest path;
    ``anbao audit verify`` proves every node's streams from the one shared integrity log. No
    ``node_id`` (one machine) leaves the name as it is, and so does a name already qualified
    for this node (an event spooled again keeps its stream).
    """
    if not node_id or stream.endswith("." + node_id):
        return stream
    qualified = f"{stream}.{node_id}"
    if not _NAME_RE.match(qualified):
        raise AuditEventInvalid("anbao.stream with the node id must be 64 characters at most.")
    return qualified


def format_timestamp(value: dt.datetime) -> str:
    """RFC 3339 UTC with exactly six fractional digits, e.g. ``2026-11-26T15:08:47.123456Z``."""
    if value.tzinfo is None:
        raise AuditEventInvalid("@timestamp must carry a time zone.")
    if value.utcoffset():
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AuditEventInvalid("@timestamp is not an RFC 3339 date-time.") from exc
    if value.tzinfo is None:
        raise AuditEventInvalid("@timestamp must carry a time zone.")
    return value.astimezone(dt.UTC)


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Stable bytes for hashing: sorted keys, compact, UTF-8, no floats (RFC 8785 compatible)."""
    try:
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise AuditEventInvalid("The document holds a value JSON cannot represent.") from exc


_EMPTY: Final[tuple[Any, ...]] = ("", None, (), [], {})


def _section(**values: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v not in _EMPTY}


def _to_document(e: AuditEvent) -> dict[str, Any]:
    """Nested ECS document; empty leaves and then-empty sections are left out (hot path)."""
    doc: dict[str, Any] = {
        "@timestamp": format_timestamp(e.timestamp),
        "event": _section(
            id=e.id,
            kind=e.kind.value,
            category=e.category,
            type=e.type,
            action=e.action,
            outcome=e.outcome.value,
            reason=e.reason,
            duration=e.duration_ns,
        ),
        "user": _section(id=e.user.id, name=e.user.name, roles=e.user.roles),
        "organization": _section(path=e.org_path),
        "source": _section(ip=e.source_ip),
        "user_agent": _section(original=e.user_agent),
        "service": _section(name=e.service),
        "trace": _section(id=e.trace_id),
        "labels": dict(e.labels),
        "personal": _section(
            id_number=e.personal.id_number,
            phone=e.personal.phone,
            address=e.personal.address,
            email=e.personal.email,
        ),
        "ecs": {"version": ECS_VERSION},
        "anbao": _section(schema_version=e.schema_version, stream=e.stream, sequence=e.sequence),
    }
    if e.http is not None:
        doc["http"] = _section(
            request=_section(method=e.http.method),
            response=_section(status_code=e.http.status_code),
        )
        doc["url"] = _section(path=e.http.path)
    if e.resource is not None:
        doc["resource"] = _section(type=e.resource.type, id=e.resource.id, name=e.resource.name)
    return {k: v for k, v in doc.items() if v not in _EMPTY}


def _validate(e: AuditEvent) -> None:
    if not isinstance(e.id, str) or not _ID_RE.match(e.id):
        raise AuditEventInvalid("event.id must be 1-128 characters of [A-Za-z0-9._:-].")
    format_timestamp(e.timestamp)
    if not _NAME_RE.match(e.action):
        raise AuditEventInvalid("event.action must be a lower-case dotted name, e.g. seal.use.")
    if not _NAME_RE.match(e.stream):
        raise AuditEventInvalid("anbao.stream must be a lower-case name.")
    if e.schema_version != SCHEMA_VERSION:
        raise AuditEventInvalid(f"anbao.schema_version {e.schema_version} is not supported.")
    for value in e.category:
        if value not in CATEGORIES:
            raise AuditEventInvalid(f"event.category {value!r} is not an allowed ECS value.")
    for value in e.type:
        if value not in TYPES:
            raise AuditEventInvalid(f"event.type {value!r} is not an allowed ECS value.")
    if e.sequence is not None and (isinstance(e.sequence, bool) or e.sequence < 0):
        raise AuditEventInvalid("anbao.sequence must be a non-negative integer.")
    if e.duration_ns is not None and e.duration_ns < 0:
        raise AuditEventInvalid("event.duration must be non-negative nanoseconds.")
    if e.source_ip:
        try:
            ipaddress.ip_address(e.source_ip)
        except ValueError as exc:
            raise AuditEventInvalid("source.ip is not an IP address.") from exc
    _validate_text(e)


def _validate_text(e: AuditEvent) -> None:
    texts = [e.reason, e.user.id, e.user.name, e.org_path, e.user_agent, e.service, e.trace_id]
    texts += list(e.user.roles) + list(e.labels.keys()) + list(e.labels.values())
    if e.resource is not None:
        texts += [e.resource.type, e.resource.id, e.resource.name]
    if e.http is not None:
        texts += [e.http.method, e.http.path]
    for text in texts:
        if not isinstance(text, str) or len(text) > _MAX_TEXT:
            raise AuditEventInvalid(f"Text fields must be strings of at most {_MAX_TEXT} chars.")
    if e.org_path and not e.org_path.startswith("/"):
        raise AuditEventInvalid("organization.path must start with '/'.")


def _get(doc: Mapping[str, Any], dotted: str, default: Any = "") -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuditEventInvalid(f"{name} must be a list of strings.")
    return tuple(value)


def event_from_document(doc: Mapping[str, Any]) -> AuditEvent:
    """Validate an ECS document (from the API, the spool or a store) into an event."""
    if not isinstance(doc, Mapping):
        raise AuditEventInvalid("An audit document must be a JSON object.")

    def g(dotted: str, default: Any = "") -> Any:
        return _get(doc, dotted, default)

    http = None
    if g("http.request.method"):
        http = HttpInfo(
            g("http.request.method"), g("url.path"), int(g("http.response.status_code", 0))
        )
    resource = None
    if g("resource.type"):
        resource = ResourceRef(g("resource.type"), g("resource.id"), g("resource.name"))
    labels = g("labels", {})
    try:
        return AuditEvent(
            id=g("event.id"),
            timestamp=parse_timestamp(g("@timestamp")),
            action=g("event.action"),
            outcome=Outcome(g("event.outcome", "unknown")),
            category=_strings(g("event.category", []), "event.category"),
            type=_strings(g("event.type", []), "event.type"),
            kind=EventKind(g("event.kind", "event")),
            reason=g("event.reason"),
            duration_ns=g("event.duration", None),
            user=UserInfo(
                g("user.id"), g("user.name"), _strings(g("user.roles", []), "user.roles")
            ),
            org_path=g("organization.path"),
            source_ip=g("source.ip"),
            user_agent=g("user_agent.original"),
            service=g("service.name", "anbao"),
            trace_id=g("trace.id"),
            http=http,
            resource=resource,
            labels=dict(labels) if isinstance(labels, Mapping) else {},
            personal=PersonalData(
                g("personal.id_number"),
                g("personal.phone"),
                g("personal.address"),
                g("personal.email"),
            ),
            stream=g("anbao.stream", DEFAULT_STREAM),
            sequence=g("anbao.sequence", None),
            schema_version=g("anbao.schema_version", SCHEMA_VERSION),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise AuditEventInvalid("The audit document has a field of the wrong type.") from exc
