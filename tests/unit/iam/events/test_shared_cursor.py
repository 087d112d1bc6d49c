"""The Keycloak pull moving between cluster nodes: the shared cursor keeps it gap- and repeat-free.

The shared store is the port (:class:`iam.events.ports.CursorStore`); here an SQLite file stands
in for PostgreSQL, whose adapter runs the same checks in tests/integration/iam/events.
"""

from __future__ import annotations

import pytest

from audit.sql.sqlite import connect
from iam.events.model import LOGIN_STREAM, Cursor
from iam.events.service import EventPuller, SharedCursorJournal, SplitJournal
from iam.events.sqlite import SqliteCursorStore
from tests.unit.iam.events.test_service import FakeKeycloak, ListSink


class FailingSave(SqliteCursorStore):
    """The node dies between its spool commit and the shared cursor's save."""

    def save(self, stream, cursor):
        raise RuntimeError("killed")


def node(tmp_path, name, kc, shared, sink):
    local = SplitJournal(SqliteCursorStore(tmp_path / f"{name}.sqlite3", connect), sink)
    return EventPuller(
        source=kc,
        journal=SharedCursorJournal(local, shared),
        realm="anbao",
        page_size=3,
        overlap_ms=1000,
    )


def test_merge_keeps_what_either_cursor_has_read():
    a = Cursor(1000, {"x": 900, "y": 1000})
    b = Cursor(1200, {"y": 1000, "z": 1200})
    assert a.merge(b) == b.merge(a) == Cursor(1200, {"x": 900, "y": 1000, "z": 1200})
    assert Cursor().merge(a) == a


def test_the_next_holder_goes_on_where_another_node_stopped(tmp_path):
    kc, sink_a, sink_b = FakeKeycloak(), ListSink(), ListSink()
    shared = SqliteCursorStore(tmp_path / "shared.sqlite3", connect)
    for i in range(5):
        kc.add(LOGIN_STREAM, f"l{i}", 1000 + i)
    assert node(tmp_path, "a", kc, shared, sink_a).pull_once() == 5
    b = node(tmp_path, "b", kc, shared, sink_b)
    assert b.pull_once() == 0  # node a died; node b repeats nothing
    kc.add(LOGIN_STREAM, "l5", 1005)
    assert b.pull_once() == 1
    assert sink_a.ids() + sink_b.ids() == [f"l{i}" for i in range(6)]


def test_a_page_in_the_spool_but_not_in_the_shared_cursor_is_not_pulled_again(tmp_path):
    kc, sink = FakeKeycloak(), ListSink()
    for i in range(3):
        kc.add(LOGIN_STREAM, f"l{i}", 1000 + i)
    broken = FailingSave(tmp_path / "shared.sqlite3", connect)
    with pytest.raises(RuntimeError, match="killed"):
        node(tmp_path, "a", kc, broken, sink).pull_once()
    assert sink.ids() == ["l0", "l1", "l2"]  # the page reached the node's spool
    shared = SqliteCursorStore(tmp_path / "shared.sqlite3", connect)
    assert shared.load(LOGIN_STREAM) == Cursor()
    assert node(tmp_path, "a", kc, shared, sink).pull_once() == 0  # the node's own cursor knew
    assert shared.load(LOGIN_STREAM) == Cursor()  # nothing new: the shared one is written next time
