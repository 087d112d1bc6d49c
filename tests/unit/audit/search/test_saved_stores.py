"""The saved-search stores' contract: the embedded SQLite file and the SQL store (here on SQLite;
on PostgreSQL in tests/integration/audit/search/test_saved_postgres.py, which reuses these tests
through the ``saved_store`` fixture)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from audit.search import saved, saved_sql
from audit.search.model import InvalidSearch, SavedSearchNotFound
from audit.search.saved import SavedSearch, SavedSearches, SqliteSavedSearches
from audit.search.saved_sql import SqlSavedSearches
from audit.sql.engine import create_engine

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite-file", "sql-on-sqlite"])
def saved_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[Callable[[], SavedSearches]]:
    """Opens a store on one database (each call: another node's store on the same one)."""
    path = tmp_path / "saved.sqlite3"
    if request.param == "sqlite-file":
        yield lambda: SqliteSavedSearches(path, clock=clock)
        return
    engines = []

    def open_sql() -> SavedSearches:
        engines.append(create_engine(f"sqlite:///{path}"))
        return SqlSavedSearches(engines[-1], clock=clock)

    yield open_sql
    for engine in engines:
        engine.dispose()


def search(owner: str = "alice", id: str = "s1", name: str = "logins") -> SavedSearch:
    return SavedSearch(id, owner, name, "action:login", "now-1d", None, "-@timestamp")


def test_a_saved_search_reads_back_and_is_listed_by_name(
    saved_store: Callable[[], SavedSearches],
) -> None:
    store = saved_store()
    first = store.put(search(id="s2", name="b"))
    store.put(search(id="s1", name="a"))
    assert store.get("alice", "s2") == first
    assert first.created == first.updated == "2026-12-01T08:00:00.000000Z"
    assert [s.id for s in store.list("alice")] == ["s1", "s2"]


def test_a_search_belongs_to_its_owner_only(saved_store: Callable[[], SavedSearches]) -> None:
    store = saved_store()
    store.put(search())
    assert store.list("bob") == []
    with pytest.raises(SavedSearchNotFound):
        store.get("bob", "s1")
    with pytest.raises(SavedSearchNotFound):
        store.delete("bob", "s1")
    store.delete("alice", "s1")
    with pytest.raises(SavedSearchNotFound):
        store.get("alice", "s1")


def test_replacing_keeps_created_and_moves_updated(
    saved_store: Callable[[], SavedSearches], clock: Clock
) -> None:
    store = saved_store()
    store.put(search())
    clock.now = T0 + dt.timedelta(hours=1)
    again = store.put(search(name="renamed"))
    assert (again.created, again.updated) == (
        "2026-12-01T08:00:00.000000Z",
        "2026-12-01T09:00:00.000000Z",
    )
    assert store.get("alice", "s1") == again
    assert len(store.list("alice")) == 1


def test_a_user_has_a_bounded_number_of_searches(
    saved_store: Callable[[], SavedSearches], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(saved, "MAX_PER_USER", 2)
    monkeypatch.setattr(saved_sql, "MAX_PER_USER", 2)
    store = saved_store()
    store.put(search(id="s1"))
    store.put(search(id="s2"))
    store.put(search(id="s2", name="replacing is not adding"))
    with pytest.raises(InvalidSearch):
        store.put(search(id="s3"))
    store.put(search(owner="bob", id="s3"))  # the bound is per user


def test_a_search_saved_through_one_node_is_listed_by_another(
    saved_store: Callable[[], SavedSearches],
) -> None:
    node_a, node_b = saved_store(), saved_store()
    made = node_a.put(search())
    assert node_b.list("alice") == [made]
    node_b.delete("alice", "s1")
    assert node_a.list("alice") == []
