"""The console's sessions in the cluster database (the real PostgreSQL): the store's tests of
tests/unit/anbao/console/test_sessions.py run here with each "node" on its own engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from anbao.console.sessions import SessionStore
from anbao.console.sessions_sql import MIGRATIONS, SqlSessionRows
from audit.sql.engine import create_engine
from tests.unit.anbao.console.test_sessions import (  # the store's tests, run on PostgreSQL
    TOKEN,
    Clock,
    Opener,
    session,
    test_a_pending_login_is_taken_once_and_expires,
    test_a_session_ends_with_the_realms_lifetime_and_on_delete,
    test_a_session_made_by_one_worker_or_node_is_valid_on_another,
    test_a_session_sealed_under_another_key_is_no_session,
)

__all__ = [
    "test_a_pending_login_is_taken_once_and_expires",
    "test_a_session_ends_with_the_realms_lifetime_and_on_delete",
    "test_a_session_made_by_one_worker_or_node_is_valid_on_another",
    "test_a_session_sealed_under_another_key_is_no_session",
]


@pytest.fixture
def engines(database: str) -> Iterator[list[sa.Engine]]:
    made: list[sa.Engine] = []
    yield made
    engine = create_engine(database)
    MIGRATIONS.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE console_sessions, console_logins"))
    for e in (*made, engine):
        e.dispose()


@pytest.fixture
def open_store(database: str, engines: list[sa.Engine]) -> Opener:
    def open_node(clock: Clock, key_file: Path) -> SessionStore:
        engines.append(create_engine(database))
        return SessionStore("unused", key_file, clock, rows=SqlSessionRows(engines[-1]))

    return open_node


def test_the_database_holds_no_token_and_no_session_id(
    open_store: Opener, engines: list[sa.Engine], tmp_path: Path
) -> None:
    store = open_store(Clock(), tmp_path / "k.key")
    session_id = store.create(session())
    with engines[0].connect() as conn:
        rows = conn.execute(sa.text("SELECT key, sealed FROM console_sessions")).all()
    raw = b"".join(bytes(k) + bytes(s) for k, s in rows)
    assert len(rows) == 1
    assert TOKEN.encode() not in raw
    assert session_id.encode() not in raw
