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


def _reference_document(e: AuditEvent) -> dict[str, object]:
    """The first, obviously-correct implementation of to_document (dotted paths, one by one)."""
    doc: dict[str, object] = {"@timestamp": e.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    pairs: list[tuple[str, object]] = [
        ("event.id", e.id), ("event.kind", e.kind.value), ("event.category", e.category),
        ("event.type", e.type), ("event.action", e.action), ("event.outcome", e.outcome.value),
        ("event.reason", e.reason), ("event.duration", e.duration_ns), ("user.id", e.user.id),
        ("user.name", e.user.name), ("user.roles", e.user.roles),
        ("organization.path", e.org_path), ("source.ip", e.source_ip),
        ("user_agent.original", e.user_agent), ("service.name", e.service),
        ("trace.id", e.trace_id), ("labels", dict(e.labels)),
        ("personal.id_number", e.personal.id_number), ("personal.phone", e.personal.phone),
        ("personal.address", e.personal.address), ("personal.email", e.personal.email),
        ("ecs.version", "8.11.0"), ("anbao.schema_version", e.schema_version),
        ("anbao.stream", e.stream), ("anbao.sequence", e.sequence),
    ]  # fmt: skip
    if e.http is not None:
        pairs += [
            ("http.request.method", e.http.method),
            ("url.path", e.http.path),
            ("http.response.status_code", e.http.status_code),
        ]
    if e.resource is not None:
        pairs += [("resource.type", e.resource.type), ("resource.id", e.resource.id)]
        pairs += [("resource.name", e.resource.name)]
    for dotted, value in pairs:
        if value in ("", None, (), [], {}):
            continue
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = list(value) if isinstance(value, tuple) else value
    return doc


@given(
    reason=st.sampled_from(["", "denied"]),
    seq=st.one_of(st.none(), st.integers(0, 10**9)),
    status=st.integers(0, 599),
    roles=st.lists(st.sampled_from(["a", "b"]), max_size=2),
    labels=st.dictionaries(st.sampled_from(["", "k"]), st.sampled_from(["", "v"]), max_size=2),
    with_http=st.booleans(),
    with_resource=st.booleans(),
    duration=st.one_of(st.none(), st.integers(0, 10**12)),
    micros=st.integers(0, 999_999),
)
def test_document_matches_the_reference_construction(  # noqa: PLR0917 - hypothesis inputs
    reason: str,
    seq: int | None,
    status: int,
    roles: list[str],
    labels: dict[str, str],
    with_http: bool,
    with_resource: bool,
    duration: int | None,
    micros: int,
) -> None:
    event = make(
        reason=reason,
        sequence=seq,
        user=UserInfo("", "bob", tuple(roles)),
        labels=labels,
        http=HttpInfo("GET", "/x", status) if with_http else None,
        resource=ResourceRef("seal", "", "") if with_resource else None,
        duration_ns=duration,
        timestamp=T0.replace(microsecond=micros),
        personal=PersonalData(),
        source_ip="",
    )
    assert event.to_document() == _reference_document(event)
    if seq is not None:
        assert event.with_sequence(seq) == event


_texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(
    name=_texts,
    reason=_texts,
    agent=_texts,
    roles=st.lists(_texts, max_size=3),
    labels=st.dictionaries(_texts, _texts, max_size=3),
    personal=st.tuples(_texts, _texts, _texts, _texts),
    resource=st.one_of(st.none(), st.tuples(_texts, _texts, _texts)),
    http=st.one_of(st.none(), st.tuples(_texts, _texts, st.integers(0, 999))),
    seq=st.one_of(st.none(), st.integers(0, 2**53)),
    duration=st.one_of(st.none(), st.integers(0, 2**60)),
)
def test_fast_canonical_bytes_equal_the_generic_serialization(  # noqa: PLR0917 - hypothesis inputs
    name: str,
    reason: str,
    agent: str,
    roles: list[str],
    labels: dict[str, str],
    personal: tuple[str, str, str, str],
    resource: tuple[str, str, str] | None,
    http: tuple[str, str, int] | None,
    seq: int | None,
    duration: int | None,
) -> None:
    event = AuditEvent.unchecked(
        id="e-1",
        timestamp=T0,
        action="seal.use",
        outcome=Outcome.FAILURE,
        category=("iam", "web"),
        reason=reason,
        user=UserInfo("", name, tuple(roles)),
        user_agent=agent,
        labels=labels,
        personal=PersonalData(*personal),
        resource=ResourceRef(*resource) if resource else None,
        http=HttpInfo(*http) if http else None,
        sequence=seq,
        duration_ns=duration,
    )
    assert event.canonical_bytes() == canonical_json(event.to_document())
