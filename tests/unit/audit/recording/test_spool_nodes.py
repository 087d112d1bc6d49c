"""One stream per node: a clustered node's spool numbers ``<stream>.<node_id>`` for every producer."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from anbao.settings import Settings
from anbao.wiring.audit import spool_config
from audit.errors import AuditEventInvalid
from audit.model import node_stream
from audit.recording.recorder import Recorder
from audit.recording.request_record import RequestRecord
from audit.recording.spool import Spool
from tests.unit.audit.conftest import make_event


def test_node_stream_qualifies_once_and_only_with_a_node() -> None:
    assert node_stream("main", "") == "main"
    assert node_stream("main", "a") == "main.a"
    assert node_stream("main.a", "a") == "main.a"  # spooled again: unchanged
    assert node_stream("main.a", "b") == "main.a.b"
    with pytest.raises(AuditEventInvalid):
        node_stream("s" * 60, "node-7")


def test_events_of_every_stream_are_numbered_per_node(spool_factory: Callable[..., Spool]) -> None:
    spool = spool_factory(node_id="a")
    out = spool.append([make_event(1), make_event(2, stream="iam"), make_event(3, stream="system")])
    assert [(e.stream, e.sequence) for e in out] == [("main.a", 0), ("iam.a", 0), ("system.a", 0)]
    docs = [json.loads(r.document)["anbao"] for r in spool.peek(10)]
    assert [(d["stream"], d["sequence"]) for d in docs] == [
        ("main.a", 0),
        ("iam.a", 0),
        ("system.a", 0),
    ]
    assert [(r.stream, r.sequence) for r in spool.peek(10)] == [
        ("main.a", 0),
        ("iam.a", 0),
        ("system.a", 0),
    ]


def test_without_a_node_id_streams_keep_their_names(spool_factory: Callable[..., Spool]) -> None:
    out = spool_factory().append([make_event(1), make_event(2, stream="iam")])
    assert [e.stream for e in out] == ["main", "iam"]


def test_request_records_and_redeliveries_keep_the_node_stream(
    spool_factory: Callable[..., Spool],
) -> None:
    spool = spool_factory(node_id="b")
    record = RequestRecord(
        "anbao", 1_764_144_000_000_000, "GET", "/x", "/x", 200, 1, "10.0.0.1", "ua", "t-1"
    )
    assert spool.append_items([record, record]) == [0, 1]
    (first,) = spool.append([make_event(9, stream="iam")], dedupe=True)
    (again,) = spool.append([make_event(9, stream="iam")], dedupe=True)
    assert (first.stream, first.sequence) == (again.stream, again.sequence) == ("iam.b", 0)
    streams = [
        (r.stream, r.sequence, json.loads(r.document)["anbao"]["stream"]) for r in spool.peek(10)
    ]
    assert streams == [("api.b", 0, "api.b"), ("api.b", 1, "api.b"), ("iam.b", 0, "iam.b")]


def test_the_recorder_s_events_go_to_the_node_s_streams(
    spool_factory: Callable[..., Spool],
) -> None:
    recorder = Recorder(spool_factory(node_id="a"))
    try:
        stored = recorder.record_event(recorder.event("audit.verify", "success", stream="system"))
    finally:
        recorder.close()
    assert (stored.stream, stored.sequence) == ("system.a", 0)


def test_the_node_id_setting_reaches_the_spool() -> None:
    env = {"ANBAO_DATA_DIR": "/tmp/anbao-unit", "ANBAO_CLUSTER_NODE_ID": "node-2"}  # noqa: S108
    assert spool_config(Settings.load(env)).node_id == "node-2"
    assert spool_config(Settings.load({"ANBAO_DATA_DIR": "/tmp/x"})).node_id == ""  # noqa: S108
