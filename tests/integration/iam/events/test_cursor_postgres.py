"""The Keycloak event cursor in PostgreSQL, the store every node of a cluster reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from anbao.wiring.identity_events import CURSOR_MIGRATIONS, shared_cursor_store
from audit.sql.engine import create_engine
from audit.sql.sqlite import connect
from iam.events.model import ADMIN_STREAM, LOGIN_STREAM, Cursor
from iam.events.postgres import PostgresCursorStore
from iam.events.service import EventPuller, SharedCursorJournal, SplitJournal
from iam.events.sqlite import SqliteCursorStore
from iam.realm.errors import EventCursorCorrupt, EventCursorUnavailable
from tests.unit.iam.events.test_service import FakeKeycloak, ListSink


@pytest.fixture(scope="module")
def engine(database: str) -> Iterator[sa.Engine]:
    engine = create_engine(database)
    yield engine
    engine.dispose()


def test_a_cursor_is_saved_whole_and_read_back(engine):
    store = shared_cursor_store(engine, "anbao")
    assert store.load(LOGIN_STREAM) == Cursor()
    store.save(LOGIN_STREAM, Cursor(1500, {"e1": 1400, "e2": 1500}))
    store.save(LOGIN_STREAM, Cursor(1600, {"e2": 1500, "e3": 1600}))
    assert store.load(LOGIN_STREAM) == Cursor(1600, {"e2": 1500, "e3": 1600})
    assert store.load(ADMIN_STREAM) == Cursor()
    assert shared_cursor_store(engine, "other").load(LOGIN_STREAM) == Cursor()  # per realm
    CURSOR_MIGRATIONS.require_current(engine)


def test_an_unreadable_cursor_is_refused_not_guessed(engine):
    store = shared_cursor_store(engine, "broken")
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO keycloak_event_cursor VALUES ('broken:login', 1, 'not json')")
        )
    with pytest.raises(EventCursorCorrupt):
        store.load(LOGIN_STREAM)


def test_an_unreachable_database_is_the_store_s_error():
    dead = create_engine("postgresql://nobody:x@127.0.0.1:1/none")
    with pytest.raises(EventCursorUnavailable):
        PostgresCursorStore(dead).load(LOGIN_STREAM)
    with pytest.raises(EventCursorUnavailable):
        PostgresCursorStore(dead).save(LOGIN_STREAM, Cursor())
    dead.dispose()


def test_the_pull_moves_between_nodes_without_gap_or_repeat(engine, tmp_path):
    kc = FakeKeycloak()
    sinks = {"a": ListSink(), "b": ListSink()}

    def node(name: str) -> EventPuller:
        local = SplitJournal(SqliteCursorStore(tmp_path / f"{name}.sqlite3", connect), sinks[name])
        return EventPuller(
            source=kc,
            journal=SharedCursorJournal(local, shared_cursor_store(engine, "moving")),
            realm="moving",
            page_size=3,
            overlap_ms=1000,
        )

    for i in range(7):
        kc.add(LOGIN_STREAM, f"l{i}", 1000 + i // 2)
    assert node("a").pull_once() == 7
    kc.add(LOGIN_STREAM, "l7", 1003)
    assert node("b").pull_once() == 1
    assert node("a").pull_once() == 0
    assert sinks["a"].ids() + sinks["b"].ids() == [f"l{i}" for i in range(8)]
