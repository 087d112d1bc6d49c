"""Fast canonical JSON of an :class:`audit.model.AuditEvent`, without the intermediate dicts.

Produces exactly ``canonical_json(event.to_document())`` (a property test checks it byte for
byte): keys written in code-point order, strings escaped by the standard library's own C
encoder (``ensure_ascii=False``), integers in decimal, empty values left out. It exists because
the spool serialises every API request's event on the request path, where building the nested
dicts of ``to_document`` and sorting them would be the larger part of the event's cost (figures
in docs/audit-operations.md, "Cost on the request path").
"""

from __future__ import annotations

from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from audit.errors import AuditEventInvalid

if TYPE_CHECKING:
    from audit.model import AuditEvent

_EMPTY: tuple[Any, ...] = ("", None, (), [], {})


def _value(value: Any) -> str:
    if isinstance(value, str):
        return str(encode_basestring(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (tuple, list)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    raise AuditEventInvalid("The document holds a value JSON cannot represent.")


def _object(pairs: Iterable[tuple[str, Any]]) -> str:
    """``pairs`` in sorted key order; values that are empty are skipped; '' when all are."""
    parts = [f'"{key}":{_value(value)}' for key, value in pairs if value not in _EMPTY]
    return "{" + ",".join(parts) + "}" if parts else ""


def _nested(pairs: Iterable[tuple[str, str]]) -> str:
    parts = [f'"{key}":{body}' for key, body in pairs if body]
    return "{" + ",".join(parts) + "}" if parts else ""


def canonical_event_bytes(e: AuditEvent, timestamp: str, ecs_version: str) -> bytes:
    """``canonical_json(e.to_document())`` with ``timestamp`` already formatted."""
    http = url = resource = ""
    if e.http is not None:
        http = _nested(
            (
                ("request", _object((("method", e.http.method),))),
                ("response", _object((("status_code", e.http.status_code),))),
            )
        )
        url = _object((("path", e.http.path),))
    if e.resource is not None:
        r = e.resource
        resource = _object((("id", r.id), ("name", r.name), ("type", r.type)))
    labels = ""
    if e.labels:
        labels = (
            "{" + ",".join(f"{_value(k)}:{_value(v)}" for k, v in sorted(e.labels.items())) + "}"
        )
    p = e.personal
    top = (
        ("@timestamp", _value(timestamp)),
        ("anbao", _object(
            (("schema_version", e.schema_version), ("sequence", e.sequence), ("stream", e.stream))
        )),
        ("ecs", _object((("version", ecs_version),))),
        ("event", _object((
            ("action", e.action), ("category", e.category), ("duration", e.duration_ns),
            ("id", e.id), ("kind", e.kind.value), ("outcome", e.outcome.value),
            ("reason", e.reason), ("type", e.type),
        ))),
        ("http", http),
        ("labels", labels),
        ("organization", _object((("path", e.org_path),))),
        ("personal", _object((
            ("address", p.address), ("email", p.email), ("id_number", p.id_number),
            ("phone", p.phone),
        ))),
        ("resource", resource),
        ("service", _object((("name", e.service),))),
        ("source", _object((("ip", e.source_ip),))),
        ("trace", _object((("id", e.trace_id),))),
        ("url", url),
        ("user", _object((("id", e.user.id), ("name", e.user.name), ("roles", e.user.roles)))),
        ("user_agent", _object((("original", e.user_agent),))),
    )  # fmt: skip
    try:
        return _nested(top).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AuditEventInvalid("The document holds a value JSON cannot represent.") from exc
