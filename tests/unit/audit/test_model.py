"""The audit event schema: validation at the boundary and the canonical byte form."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.errors import AuditEventInvalid
from audit.model import (
    FIELDS,
    SENSITIVE_FIELDS,
    AuditEvent,
    HttpInfo,
    Outcome,
    PersonalData,
    ResourceRef,
    UserInfo,
    canonical_json,
    event_from_document,
)

T0 = dt.datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=dt.UTC)


def make(**over: object) -> AuditEvent:
    base: dict[str, object] = {
        "id": "01J0000000000000000000000A",
        "timestamp": T0,
        "action": "seal.use",
        "outcome": Outcome.SUCCESS,
        "category": ("iam",),
        "type": ("access",),
        "user": UserInfo("u-1", "alice", ("auditor",)),
        "org_path": "/acme/finance",
        "source_ip": "10.0.0.7",
        "resource": ResourceRef("seal", "k-17", "Finance seal"),
        "http": HttpInfo("POST", "/seals/k-17/use", 200),
        "personal": PersonalData(phone="13800000000"),
    }
    base.update(over)
    return AuditEvent(**base)  # type: ignore[arg-type]


def test_document_is_ecs_shaped_and_round_trips() -> None:
    event = make(sequence=5)
    doc = event.to_document()
    assert doc["@timestamp"] == "2026-11-26T08:00:00.123456Z"
    assert doc["event"]["outcome"] == "success"
    assert doc["user"]["roles"] == ["auditor"]
    assert doc["source"]["ip"] == "10.0.0.7"
    assert doc["anbao"] == {"schema_version": 1, "stream": "main", "sequence": 5}
    assert event_from_document(doc) == event


def test_canonical_json_is_sorted_compact_and_stable() -> None:
    event = make()
    raw = event.canonical_bytes()
    assert b" " not in raw.replace(b"Finance seal", b"")
    assert raw == canonical_json(json.loads(raw))
    keys = list(json.loads(raw))
    assert keys == sorted(keys)
    assert event_from_document(json.loads(raw)).canonical_bytes() == raw


def test_canonical_json_refuses_floats_that_are_nan() -> None:
    with pytest.raises(AuditEventInvalid):
        canonical_json({"x": float("nan")})


def test_sensitive_fields_are_personal_data_only() -> None:
    assert {
        "personal.id_number",
        "personal.phone",
        "personal.address",
        "personal.email",
    } == SENSITIVE_FIELDS
    assert not FIELDS["user.name"].sensitive


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", ""),
        ("id", "has space"),
        ("action", "Seal Use"),
        ("category", ("nonsense",)),
        ("type", ("nope",)),
        ("source_ip", "10.0.0.300"),
        ("timestamp", dt.datetime(2026, 1, 1)),
        ("sequence", -1),
        ("org_path", "acme"),
        ("schema_version", 99),
        ("stream", "Bad Stream"),
    ],
)
def test_invalid_events_are_refused(field: str, value: object) -> None:
    with pytest.raises(AuditEventInvalid):
        make(**{field: value})


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"@timestamp": "yesterday", "event": {"id": "a", "action": "x"}},
        {
            "@timestamp": "2026-01-01T00:00:00Z",
            "event": {"id": "a", "action": "x", "outcome": "meh"},
        },
        {"@timestamp": "2026-01-01T00:00:00Z", "event": {"id": "a", "action": "x", "category": 5}},
    ],
)
def test_bad_documents_are_refused(doc: object) -> None:
    with pytest.raises(AuditEventInvalid):
        event_from_document(doc)  # type: ignore[arg-type]


@given(
    name=st.text(max_size=40),
    reason=st.text(max_size=80),
    labels=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4),
)
def test_round_trip_any_text(name: str, reason: str, labels: dict[str, str]) -> None:
    event = make(user=UserInfo("u", name, ()), reason=reason, labels=labels)
    raw = event.canonical_bytes()
    assert event_from_document(json.loads(raw)).canonical_bytes() == raw


def test_with_sequence_only_changes_sequence() -> None:
    event = make()
    assert dataclasses.replace(event.with_sequence(9), sequence=None) == event
