"""The saved-search contract (tests/unit/audit/search/test_saved_stores.py) on the real
PostgreSQL: the store of a clustered deployment, each "node" with its own engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from audit.search.saved import SavedSearches
from audit.search.saved_sql import MIGRATIONS, SqlSavedSearches
from audit.sql.engine import create_engine
from tests.unit.audit.search.test_saved_stores import (  # the contract, run here on PostgreSQL
    Clock,
    clock,
    test_a_saved_search_reads_back_and_is_listed_by_name,
    test_a_search_belongs_to_its_owner_only,
    test_a_search_saved_through_one_node_is_listed_by_another,
    test_a_user_has_a_bounded_number_of_searches,
    test_replacing_keeps_created_and_moves_updated,
)

__all__ = [
    "clock",
    "test_a_saved_search_reads_back_and_is_listed_by_name",
    "test_a_search_belongs_to_its_owner_only",
    "test_a_search_saved_through_one_node_is_listed_by_another",
    "test_a_user_has_a_bounded_number_of_searches",
    "test_replacing_keeps_created_and_moves_updated",
]


@pytest.fixture
def saved_store(database: str, clock: Clock) -> Iterator[Callable[[], SavedSearches]]:
    """Opens a node's store on the module's database; the table is emptied after each test."""
    engines: list[sa.Engine] = []

    def open_node() -> SavedSearches:
        engines.append(create_engine(database))
        return SqlSavedSearches(engines[-1], clock=clock)

    yield open_node
    MIGRATIONS.upgrade(engines[0])  # a test that never used its store still empties it
    with engines[0].begin() as conn:
        conn.execute(sa.text("TRUNCATE saved_searches"))
    for engine in engines:
        engine.dispose()
