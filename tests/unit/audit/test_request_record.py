"""The compact request record: what the middleware spools, and the canonical event it becomes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audit import request_record
from audit.errors import AuditEventInvalid
from audit.model import AuditEvent, HttpInfo, Outcome, ResourceRef, UserInfo
from audit.recorder import Recorder
from audit.spool import CompactRecord, FsyncPolicy, Spool, SpoolConfig
from tests.unit.audit.conftest import make_event

EVENT_ID = "01900000-0000-7000-8000-000000000001"
T_US = 1_795_680_000_123_456  # 2026-11-26T08:00:00.123456Z


def facts(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "service": "anbao",
        "time_us": T_US,
        "method": "POST",
        "path": "/seals/abc/verify",
        "status": 403,
        "route": "/seals/{seal_id}/verify",
        "duration_ns": 1234,
        "client": "10.1.2.3",
        "user_agent": "curl/8",
        "trace_id": "req-1",
        "subject": "u-1",
        "username": "zhang.san",
        "roles": ["seal-operator", "auditor"],
        "org_path": "/gd/gz",
    }
    return base | overrides


def reference_event(f: dict[str, Any], sequence: int) -> AuditEvent:
    """The event as the validating constructor builds it from the same facts."""
    failed = f["status"] >= 400
    return AuditEvent(
        id=EVENT_ID,
        timestamp=dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=f["time_us"]),
        action=f"api.{f['method'].lower()}",
        outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
        category=("web", "api"),
        type=("access", "denied") if failed else ("access",),
        reason=f"HTTP {f['status']}" if failed else "",
        duration_ns=f["duration_ns"],
        user=UserInfo(f["subject"], f["username"], tuple(sorted(f["roles"]))),
        org_path=f["org_path"],
        source_ip=f["client"],
        user_agent=f["user_agent"],
        trace_id=f["trace_id"],
        http=HttpInfo(f["method"], f["path"], f["status"]),
        resource=ResourceRef("route", f["route"]),
        stream="api",
    ).with_sequence(sequence)


def test_expansion_is_the_validated_event_byte_for_byte() -> None:
    f = facts()
    timestamp, document = request_record.expand(request_record.encode(**f), EVENT_ID, "api", 7)
    expected = reference_event(f, 7)
    assert document == expected.canonical_bytes()
    assert timestamp == "2026-11-26T08:00:00.123456Z"
    assert json.loads(document)["event"]["reason"] == "HTTP 403"


def test_success_without_principal_leaves_user_out() -> None:
    f = facts(status=200, subject="", username="", roles=[], org_path="")
    doc = json.loads(request_record.expand(request_record.encode(**f), EVENT_ID, "api", 0)[1])
    assert doc["event"]["outcome"] == "success"
    assert doc["event"]["type"] == ["access"]
    assert "user" not in doc
    assert "organization" not in doc
    assert "reason" not in doc["event"]


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("client", "not-an-ip", None),  # forwarded headers can carry anything
        ("client", "::FFFF:10.0.0.1", "::ffff:a00:1"),
        ("org_path", "gd/gz", None),  # not a path: dropped, as the validating model would
        ("method", "BREW", "api.other"),
        ("path", "/a\udcff", "/a?"),  # a lone surrogate has no UTF-8 form
    ],
)
def test_expansion_normalises_what_the_model_would_refuse(
    field: str, raw: str, expected: str | None
) -> None:
    payload = request_record.encode(**facts(**{field: raw}))
    doc = json.loads(request_record.expand(payload, EVENT_ID, "api", 0)[1])
    value = {
        "client": doc.get("source", {}).get("ip"),
        "org_path": doc.get("organization", {}).get("path"),
        "method": doc["event"]["action"],
        "path": doc["url"]["path"],
    }[field]
    assert value == expected


def test_capture_bounds_what_a_client_controls() -> None:
    payload = request_record.encode(
        **facts(path="/" + "p" * 10_000, user_agent="u" * 10_000, trace_id="t" * 500)
    )
    assert len(payload) < 4096
    doc = json.loads(request_record.expand(payload, EVENT_ID, "api", 0)[1])
    assert len(doc["url"]["path"]) == request_record.MAX_PATH
    assert len(doc["user_agent"]["original"]) == request_record.MAX_USER_AGENT
    assert len(doc["trace"]["id"]) == request_record.MAX_TRACE_ID


def test_unreadable_payload_is_an_error_not_a_guess() -> None:
    with pytest.raises(AuditEventInvalid):
        request_record.expand(b'["r1",1,2]', EVENT_ID, "api", 0)
    with pytest.raises(AuditEventInvalid):
        request_record.expand(b'["r9"' + request_record.encode(**facts())[5:], EVENT_ID, "api", 0)


def test_spool_sequences_compact_records_with_events_and_expands_on_read(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    payload = request_record.encode(**facts())
    out = spool.append_items(
        [make_event(1, stream="api"), CompactRecord(EVENT_ID, "api", payload), make_event(2)]
    )
    assert [o if isinstance(o, int) else o.sequence for o in out] == [0, 1, 0]
    records = spool.peek(10)
    assert [(r.stream, r.sequence) for r in records] == [("api", 0), ("api", 1), ("main", 0)]
    compact = records[1]
    assert compact.document == reference_event(facts(), 1).canonical_bytes()
    assert compact.event_id == EVENT_ID
    assert compact.size == len(payload)
    assert spool.peek(10)[1].document == compact.document  # redelivery: the same bytes
    stats = spool.stats()
    assert stats.pending_bytes == sum(r.size for r in records)
    spool.ack(records)
    assert spool.stats().pending_bytes == 0
    assert spool.stats().pending_events == 0


def test_a_corrupt_compact_row_goes_to_the_dead_table_and_shipping_goes_on(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    good = request_record.encode(**facts())
    spool.append_compact(
        [CompactRecord(EVENT_ID, "api", b'["r1",broken'), CompactRecord("e-2", "api", good)]
    )
    records = spool.peek(10)
    assert [r.event_id for r in records] == ["e-2"]
    stats = spool.stats()
    assert (stats.dead_events, stats.pending_events) == (1, 1)
    assert stats.pending_bytes == len(good)


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_recorder_acknowledges_compact_records_after_the_commit(
    tmp_path: Path, policy: FsyncPolicy
) -> None:
    spool = Spool(SpoolConfig(path=tmp_path / "spool.db", fsync=policy))
    recorder = Recorder(spool)
    payload = request_record.encode(**facts())

    async def produce() -> list[int]:
        return list(
            await asyncio.gather(*(recorder.arecord_compact("api", payload) for _ in range(5)))
        )

    try:
        sequences = asyncio.run(produce())
        ids = {r.event_id for r in spool.peek(10)}
    finally:
        recorder.close()
        spool.close()
    assert sorted(sequences) == [0, 1, 2, 3, 4]
    assert len(ids) == 5  # every record got its own event id
