"""The Keycloak event cursor in PostgreSQL, the store every node of a cluster reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from anbao.settings import Settings
from anbao.wiring.audit import RecorderEventSink, spool_recorder
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.identity_events import CURSOR_MIGRATIONS, journal_for, shared_cursor_store
from audit.sensitive.masking import Keyring
from audit.sql.engine import create_engine
from audit.sql.sqlite import connect
from iam.events.model import ADMIN_STREAM, LOGIN_STREAM, Cursor, login_event_to_ecs
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


def test_a_clustered_node_s_journal_keeps_the_cursor_in_its_spool_and_in_postgresql(
    database, tmp_path
):
    Keyring.generate().save(tmp_path / "field-keys.json")
    env = {
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp_path / "field-keys.json"),
        "ANBAO_CONSOLE_ENABLED": "false",
        "ANBAO_DATA_DIR": str(tmp_path),
        "ANBAO_CLUSTER_NODE_ID": "a",
        "ANBAO_CLUSTER_DATABASE_URL": database,
        "ANBAO_SEALS_DATABASE_URL": database,
        "ANBAO_COMPLIANCE_DATABASE_URL": database,
        "ANBAO_SIEM_ALERT_STORE": "elasticsearch",
        "ANBAO_AUDIT_STORE": "elasticsearch",
        "ANBAO_ELASTICSEARCH_PASSWORD": "unused",  # nothing is shipped here
        "ANBAO_KEYCLOAK_REQUIRED": "false",
    }
    settings = Settings.load(env)
    with spool_recorder(settings) as recorder:
        journal = journal_for(settings, recorder, "anbao")
        assert isinstance(journal, SharedCursorJournal)
        event = {"id": "kc-1", "time": 1_790_000_000_000, "type": "LOGIN", "userId": "u-1"}
        cursor = Cursor(1_790_000_000_000, {"kc-1": 1_790_000_000_000})
        journal.commit(LOGIN_STREAM, [login_event_to_ecs(event, "anbao")], cursor)
        (record,) = recorder.spool.peek(10)
        assert (record.stream, record.sequence) == ("iam.a", 0)
        assert RecorderEventSink(recorder, realm="anbao").load(LOGIN_STREAM) == cursor
    assert shared_cursor_store(cluster_engine(settings), "anbao").load(LOGIN_STREAM) == cursor
    cluster_engine(settings).dispose()
