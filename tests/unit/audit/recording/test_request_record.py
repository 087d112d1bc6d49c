"""The request record: what the middleware builds, the spool keeps, and the event it becomes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.errors import AuditEventInvalid, AuditSpoolFull
from audit.model import AuditEvent, HttpInfo, Outcome, ResourceRef, UserInfo
from audit.recording import request_record
from audit.recording.recorder import Recorder
from audit.recording.request_record import RequestRecord
from audit.recording.spool import (
    Backpressure,
    FsyncPolicy,
    Spool,
    SpoolConfig,
    leftover_request_journal,
)
from tests.paths import ROOT
from tests.unit.audit.conftest import make_event
from tests.unit.clocks import LIVENESS_SECONDS

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


def reference_event(
    f: dict[str, Any], sequence: int, event_id: str = EVENT_ID, *, checked: bool = True
) -> AuditEvent:
    """The event the model builds from the same facts (validating, unless ``checked=False``)."""
    failed = f["status"] >= 400
    build = AuditEvent if checked else AuditEvent.unchecked
    return build(
        id=event_id,
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
        service=f["service"],
        trace_id=f["trace_id"],
        http=HttpInfo(f["method"], f["path"], f["status"]),
        resource=ResourceRef("route", f["route"]) if f["route"] else None,
        stream="api",
    ).with_sequence(sequence)


SALT = b"0123456789abcdef"


def expand(payload: bytes, sequence: int) -> tuple[str, str, bytes]:
    """``(event id, @timestamp, document)`` of one payload, read back as a one-record row."""
    group = request_record.group([payload])
    (e,) = request_record.expand_group(group, SALT, "api", sequence, 1)
    assert e.parsed == json.loads(e.document)  # what readers take instead of parsing
    return e.event_id, e.timestamp, e.document


def test_expansion_is_the_validated_event_byte_for_byte() -> None:
    f = facts()
    event_id, timestamp, document = expand(request_record.encode(RequestRecord(**f)), 7)
    assert event_id == request_record.derived_event_id(SALT, "api", 7, T_US)
    expected = reference_event(f, 7, event_id)
    assert document == expected.canonical_bytes()
    assert timestamp == "2026-11-26T08:00:00.123456Z"
    assert json.loads(document)["event"]["reason"] == "HTTP 403"


def test_success_without_principal_leaves_user_out() -> None:
    f = facts(status=200, subject="", username="", roles=[], org_path="")
    doc = json.loads(expand(request_record.encode(RequestRecord(**f)), 0)[2])
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
    payload = request_record.encode(RequestRecord(**facts(**{field: raw})))
    doc = json.loads(expand(payload, 0)[2])
    value = {
        "client": doc.get("source", {}).get("ip"),
        "org_path": doc.get("organization", {}).get("path"),
        "method": doc["event"]["action"],
        "path": doc["url"]["path"],
    }[field]
    assert value == expected


def test_encoding_bounds_what_a_client_controls() -> None:
    payload = request_record.encode(
        RequestRecord(**facts(path="/" + "p" * 10_000, user_agent="u" * 10_000, trace_id="t" * 500))
    )
    assert len(payload) < 4096
    doc = json.loads(expand(payload, 0)[2])
    assert len(doc["url"]["path"]) == request_record.MAX_PATH
    assert len(doc["user_agent"]["original"]) == request_record.MAX_USER_AGENT
    assert len(doc["trace"]["id"]) == request_record.MAX_TRACE_ID


def test_unreadable_payload_is_an_error_not_a_guess() -> None:
    with pytest.raises(AuditEventInvalid):
        expand(b'["r1",1,2]', 0)
    with pytest.raises(AuditEventInvalid):
        expand(b'["r9"' + request_record.encode(RequestRecord(**facts()))[5:], 0)
    with pytest.raises(AuditEventInvalid):  # a row must hold as many records as it says
        request_record.expand_group(b"[]", SALT, "api", 0, 1)


def test_spool_groups_request_records_in_one_row_and_expands_them_on_read(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    records = [RequestRecord(**facts(path=f"/p/{i}")) for i in range(3)]
    out = spool.append_items(
        [
            make_event(1, stream="api"),
            *records[:2],
            make_event(2),
            records[2],
        ]
    )
    assert [o if isinstance(o, int) else o.sequence for o in out] == [0, 1, 2, 0, 3]
    rows = spool._db.execute("SELECT stream, seq, events FROM spool ORDER BY id").fetchall()
    assert rows == [("api", 0, 1), ("api", 1, 2), ("main", 0, 1), ("api", 3, 1)]
    records = spool.peek(10)  # type: ignore[assignment]
    assert [(r.stream, r.sequence) for r in records] == [
        ("api", 0), ("api", 1), ("api", 2), ("main", 0), ("api", 3)
    ]  # fmt: skip
    grouped = [records[1], records[2], records[4]]
    for record, f in zip(grouped, [facts(path=f"/p/{i}") for i in range(3)], strict=True):
        expected = reference_event(f, record.sequence, record.event_id)
        assert record.document == expected.canonical_bytes()
        assert json.loads(record.document)["event"]["id"] == record.event_id
    assert len({r.event_id for r in records}) == 5
    again = spool.peek(10)  # redelivery: the same ids and bytes
    assert [(r.event_id, r.document) for r in again] == [(r.event_id, r.document) for r in records]
    stats = spool.stats()
    assert stats.pending_events == 5
    assert stats.pending_bytes == sum(r.size for r in records)
    spool.ack(records)
    assert spool.stats().pending_bytes == 0
    assert spool.stats().pending_events == 0


def test_derived_ids_are_uuid7_keyed_by_salt_stream_and_sequence() -> None:
    derive = request_record.derived_event_id
    one = derive(b"s" * 16, "api", 7, T_US)
    assert one == derive(b"s" * 16, "api", 7, T_US)
    assert str(uuid.UUID(one)) == one
    assert uuid.UUID(one).version == 7
    assert int(one.replace("-", "")[:12], 16) == T_US // 1000  # the event's millisecond
    others = {derive(b"t" * 16, "api", 7, T_US), derive(b"s" * 16, "api", 8, T_US)}
    others.add(derive(b"s" * 16, "main", 7, T_US))
    assert one not in others
    assert len(others) == 3


def test_a_peek_never_splits_a_group_row(spool_factory: Callable[..., Spool]) -> None:
    spool = spool_factory()
    spool.append_items([RequestRecord(**facts())] * 4)
    spool.append_items([make_event(1)])
    assert len(spool.peek(2)) == 4  # the first row always comes whole
    assert len(spool.peek(5)) == 5
    assert len(spool.peek(4)) == 4


def test_a_corrupt_group_row_goes_to_the_dead_table_and_shipping_goes_on(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    spool.append_items([RequestRecord(**facts())] * 2)
    spool._db.execute("UPDATE spool SET doc=? WHERE seq=0", (b'[["r1",broken],[]]',))
    spool.append_items([RequestRecord(**facts())])
    records = spool.peek(10)
    assert [r.sequence for r in records] == [2]
    stats = spool.stats()
    assert (stats.dead_events, stats.pending_events) == (1, 1)
    dead = spool._db.execute("SELECT seq, doc, reason FROM dead").fetchall()
    assert dead[0][0] == 0
    assert dead[0][1].startswith(request_record.GROUP_PREFIX)
    assert "unreadable" in dead[0][2]


def test_refused_grouped_records_are_kept_expanded_and_counted(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory()
    spool.append_items([RequestRecord(**facts())] * 3)
    records = spool.peek(10)
    spool.bury([records[1]], ["schema violation"])
    spool.ack([records[0], records[2]])
    stats = spool.stats()
    assert (stats.pending_events, stats.pending_bytes, stats.dead_events) == (0, 0, 1)
    event_id, doc = spool._db.execute("SELECT event_id, doc FROM dead").fetchone()
    assert (event_id, doc) == (records[1].event_id, records[1].document)


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_recorder_acknowledges_request_records_after_the_commit(
    tmp_path: Path, policy: FsyncPolicy
) -> None:
    spool = Spool(SpoolConfig(path=tmp_path / "spool.db", fsync=policy))
    recorder = Recorder(spool)

    async def produce() -> None:
        await asyncio.gather(*(recorder.record_request(RequestRecord(**facts())) for _ in range(5)))

    try:
        asyncio.run(produce())
        # acknowledged = durable: another spool handle (the shipper, after a kill -9) finds them
        shipper_side = Spool(SpoolConfig(path=tmp_path / "spool.db", fsync=policy))
        records = shipper_side.peek(10)
        shipper_side.close()
    finally:
        recorder.close()
        spool.close()
    assert sorted(r.sequence for r in records) == [0, 1, 2, 3, 4]
    assert len({r.event_id for r in records}) == 5  # every record got its own event id


def test_a_spool_from_before_grouped_records_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,"
        " stream TEXT NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL, doc BLOB NOT NULL);"
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    )
    event = make_event(1)
    old.execute(
        "INSERT INTO spool(event_id, stream, seq, ts, doc) VALUES (?,?,?,?,?)",
        (
            event.id,
            event.stream,
            0,
            "2026-11-26T00:00:00.000Z",
            event.with_sequence(0).canonical_bytes(),
        ),
    )
    old.execute("INSERT INTO counters VALUES ('pending_bytes', 10), ('pending_events', 1)")
    old.commit()
    old.close()
    spool = Spool(SpoolConfig(path=path))
    try:
        assert [r.event_id for r in spool.peek(10)] == [event.id]
        spool.append_items([RequestRecord(**facts())])
        assert spool.stats().pending_events == 2
        assert [r.sequence for r in spool.peek(10)] == [0, 0]
    finally:
        spool.close()
    check = sqlite3.connect(path)
    sql = check.execute("SELECT sql FROM sqlite_master WHERE name='spool'").fetchone()[0]
    check.close()
    assert "AUTOINCREMENT" not in sql
    assert "events" in sql


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"duration_ns": None, "roles": []},
        {"path": '/a"b\\c\n\u00e9\u4e2d\ud800', "user_agent": "\x00\x1f\u2028"},
        {"username": "\U0001f600", "roles": ["r\u00e9", 'q"']},
    ],
)
def test_the_written_payload_is_the_json_of_the_facts(overrides: dict[str, Any]) -> None:
    f = facts(**overrides)
    payload = request_record.encode(RequestRecord(**f))
    assert payload.isascii()
    reference = json.dumps(
        [
            "r1", f["service"], f["time_us"], f["method"], f["path"], f["status"], f["route"],
            f["duration_ns"], f["client"], f["user_agent"], f["trace_id"], f["subject"],
            f["username"], f["roles"], f["org_path"],
        ],
        separators=(",", ":"),
    )  # fmt: skip
    assert payload.decode() == reference


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(
    service=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20),
    method=st.sampled_from(["GET", "POST", "DELETE", "OPTIONS", "PATCH"]),
    path=_TEXT,
    status=st.integers(0, 999),
    route=_TEXT,
    duration_ns=st.none() | st.integers(0, 10**12),
    client=st.sampled_from(["", "10.1.2.3", "::1", "2001:db8::7"]),
    user_agent=_TEXT,
    trace_id=_TEXT,
    subject=_TEXT,
    username=_TEXT,
    roles=st.lists(_TEXT, max_size=4),
    org_path=st.sampled_from(["", "/gd", "/gd/gz/\u5929\u6cb3"]),
    sequence=st.integers(0, 2**40),
)
def test_the_direct_writer_is_the_models_canonical_form(sequence: int, **f: Any) -> None:
    f = facts(**f)
    event_id, _, document = expand(request_record.encode(RequestRecord(**f)), sequence)
    assert document == reference_event(f, sequence, event_id, checked=False).canonical_bytes()


# -- what the middleware hands over ---------------------------------------------------------------


class Principal:
    subject = "u-1"
    username = "zhang.san"
    roles = ("seal-operator", "auditor")
    org_path = "/gd/gz"


def test_the_principal_is_read_by_attribute_name() -> None:
    f = facts()
    args = (f["service"], T_US, f["method"], f["path"], f["route"], f["status"],
            f["duration_ns"], f["client"], f["user_agent"], f["trace_id"])  # fmt: skip
    record = request_record.record_from_principal(*args, Principal())
    assert request_record.encode(record) == request_record.encode(RequestRecord(**f))
    anonymous = request_record.record_from_principal(*args, None)
    doc = json.loads(expand(request_record.encode(anonymous), 0)[2])
    assert "user" not in doc
    assert "organization" not in doc


def test_a_raw_user_agent_header_is_read_as_latin_1() -> None:
    raw = "Mozilla/5.0 é".encode("latin-1")
    record = RequestRecord(**facts(user_agent=raw))
    doc = json.loads(expand(request_record.encode(record), 0)[2])
    assert doc["user_agent"]["original"] == "Mozilla/5.0 é"


def test_values_of_subclasses_are_written_as_their_text() -> None:
    class Text(str):
        pass

    record = RequestRecord(**facts(path=Text("/a"), roles=(Text("r"),)))
    assert request_record.encode(record) == request_record.encode(
        RequestRecord(**facts(path="/a", roles=["r"]))
    )


# -- acknowledged means durable ------------------------------------------------------------------


_KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from pathlib import Path
    from audit.recording.recorder import Recorder
    from audit.recording.request_record import RequestRecord
    from audit.recording.spool import FsyncPolicy, Spool, SpoolConfig
    from tests.unit.audit.recording.test_request_record import facts

    spool = Spool(SpoolConfig(path=Path(sys.argv[1]), fsync=FsyncPolicy(sys.argv[2])))
    recorder = Recorder(spool)

    async def produce() -> None:
        waiting = [
            recorder.record_request(RequestRecord(**facts(path=f"/items/{n}")))
            for n in range(200)
        ]
        await asyncio.gather(*waiting)
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(produce())
    """
)


@pytest.mark.parametrize("policy", list(FsyncPolicy))
def test_kill_9_after_the_acknowledgement_loses_nothing(
    tmp_path: Path, policy: FsyncPolicy
) -> None:
    path = tmp_path / "spool.db"
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(path), policy.value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.strip() == "acknowledged"
    spool = Spool(SpoolConfig(path=path))
    try:
        records = spool.peek(500)
        assert spool.stats().dead_events == 0
    finally:
        spool.close()
    assert sorted(r.sequence for r in records) == list(range(200))
    paths = sorted(json.loads(r.document)["url"]["path"] for r in records)
    assert paths == sorted(f"/items/{n}" for n in range(200))


def test_a_full_spool_refuses_request_records_per_its_backpressure(tmp_path: Path) -> None:
    spool = Spool(
        SpoolConfig(path=tmp_path / "spool.db", capacity_bytes=1000, backpressure=Backpressure.FAIL)
    )
    spool.append([make_event(1, reason="x" * 2000)])  # over capacity: nothing more fits
    recorder = Recorder(spool)

    async def produce() -> None:
        await asyncio.wait_for(recorder.record_request(RequestRecord(**facts())), LIVENESS_SECONDS)

    try:
        with pytest.raises(AuditSpoolFull):
            asyncio.run(produce())
        assert spool.stats().pending_events == 1
    finally:
        recorder.close()
        spool.close()


def test_journal_files_of_an_earlier_release_are_found(tmp_path: Path) -> None:
    """Their records were acknowledged; this release no longer reads them."""
    spool = tmp_path / "spool.db"
    assert leftover_request_journal(spool) is None
    left = tmp_path / "spool.db.requests"
    left.mkdir()
    assert leftover_request_journal(spool) is None  # an empty folder holds nothing
    (left / f"{os.getpid()}-1-ab.jnl").write_bytes(b"AJF1")
    assert leftover_request_journal(spool) == left
