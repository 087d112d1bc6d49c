"""Saved searches, stored per user: an analyst's named query, window and sort.

Each search belongs to the ``sub`` of the token that saved it; nobody else can list, read,
change or delete it (a saved query can reveal what an investigation is looking at). The query
text is checked by the parser before it is stored, so a saved search always runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

from audit.errors import AuditStoreUnavailable
from audit.model import format_timestamp
from audit.search.model import InvalidSearch, SavedSearchNotFound
from audit.sql.sqlite import connect

MAX_PER_USER: Final = 200
MAX_NAME: Final = 120
#: Longest query, time expression or sort a saved search keeps (stored, so bounded).
MAX_TEXT: Final = 4096
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS saved_searches (
    owner TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, q TEXT NOT NULL,
    time_from TEXT, time_to TEXT, sort TEXT, created TEXT NOT NULL, updated TEXT NOT NULL,
    PRIMARY KEY (owner, id)
)
"""


@dataclasses.dataclass(frozen=True, slots=True)
class SavedSearch:
    id: str
    owner: str
    name: str
    q: str
    time_from: str | None = None
    time_to: str | None = None
    sort: str | None = None
    created: str = ""
    updated: str = ""

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("owner")
        return data


def saved_from_json(body: Mapping[str, Any], *, owner: str, id: str, now: str) -> SavedSearch:
    """Validate a client's saved-search body (``name``, ``q``, optional ``from``/``to``/``sort``)."""
    name, q = body.get("name"), body.get("q", "")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME:
        raise InvalidSearch(f"name must be a string of 1 to {MAX_NAME} characters.")
    if not isinstance(q, str) or len(q) > MAX_TEXT:
        raise InvalidSearch(f"q must be a string of at most {MAX_TEXT} characters.")
    optional: dict[str, str | None] = {}
    for key in ("from", "to", "sort"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise InvalidSearch(f"{key} must be a string of at most {MAX_TEXT} characters.")
        optional[key] = value
    return SavedSearch(
        id, owner, name.strip(), q, optional["from"], optional["to"], optional["sort"], now, now
    )


class SavedSearches(Protocol):
    def list(self, owner: str) -> list[SavedSearch]: ...

    def get(self, owner: str, search_id: str) -> SavedSearch: ...

    def put(self, search: SavedSearch) -> SavedSearch:
        """Create or replace (``created`` of an existing search is kept)."""
        ...

    def delete(self, owner: str, search_id: str) -> None: ...


class SqliteSavedSearches:
    """Saved searches in a small SQLite file next to the embedded store."""

    def __init__(self, path: str | Path, *, clock: Callable[[], dt.datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._db = connect(path)
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AuditStoreUnavailable("The saved-search database cannot be opened.") from exc

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The saved-search database does not answer.") from exc

    def list(self, owner: str) -> list[SavedSearch]:
        rows = self._rows(
            "SELECT id, owner, name, q, time_from, time_to, sort, created, updated"
            " FROM saved_searches WHERE owner = ? ORDER BY name, id",
            (owner,),
        )
        return [SavedSearch(*row) for row in rows]

    def get(self, owner: str, search_id: str) -> SavedSearch:
        rows = self._rows(
            "SELECT id, owner, name, q, time_from, time_to, sort, created, updated"
            " FROM saved_searches WHERE owner = ? AND id = ?",
            (owner, search_id),
        )
        if not rows:
            raise SavedSearchNotFound("No saved search with this id belongs to you.")
        return SavedSearch(*rows[0])

    def put(self, search: SavedSearch) -> SavedSearch:
        now = format_timestamp(self._clock())
        existing = self._rows(
            "SELECT created FROM saved_searches WHERE owner = ? AND id = ?",
            (search.owner, search.id),
        )
        if not existing:
            (count,) = self._rows(
                "SELECT count(*) FROM saved_searches WHERE owner = ?", (search.owner,)
            )[0]
            if count >= MAX_PER_USER:
                raise InvalidSearch(f"At most {MAX_PER_USER} saved searches per user.")
        stored = dataclasses.replace(
            search, created=existing[0][0] if existing else now, updated=now
        )
        self._rows(
            "INSERT OR REPLACE INTO saved_searches VALUES (?,?,?,?,?,?,?,?,?)",
            (
                stored.owner,
                stored.id,
                stored.name,
                stored.q,
                stored.time_from,
                stored.time_to,
                stored.sort,
                stored.created,
                stored.updated,
            ),
        )
        return stored

    def delete(self, owner: str, search_id: str) -> None:
        self.get(owner, search_id)
        self._rows("DELETE FROM saved_searches WHERE owner = ? AND id = ?", (owner, search_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SavedSearchService:
    """Per-user CRUD; only callers allowed to search may save searches."""

    def __init__(
        self,
        store: SavedSearches,
        *,
        authorize: Callable[[Any], str],
        check_query: Callable[[str], object],
        new_id: Callable[[], str],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._store = store
        self._authorize = authorize
        self._check = check_query
        self._new_id = new_id
        self._clock = clock

    def list(self, caller: Any) -> list[SavedSearch]:
        self._authorize(caller)
        return self._store.list(caller.subject)

    def get(self, caller: Any, search_id: str) -> SavedSearch:
        self._authorize(caller)
        return self._store.get(caller.subject, search_id)

    def save(
        self, caller: Any, body: Mapping[str, Any], search_id: str | None = None
    ) -> SavedSearch:
        """Create (no id) or replace (an id the caller already owns)."""
        self._authorize(caller)
        if search_id is not None:
            self._store.get(caller.subject, search_id)
        now = format_timestamp(self._clock())
        search = saved_from_json(
            body, owner=caller.subject, id=search_id or self._new_id(), now=now
        )
        self._check(search.q)
        return self._store.put(search)

    def delete(self, caller: Any, search_id: str) -> None:
        self._authorize(caller)
        self._store.delete(caller.subject, search_id)


class MemorySavedSearches:
    """In-memory :class:`SavedSearches` for unit tests."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], SavedSearch] = {}

    def list(self, owner: str) -> list[SavedSearch]:
        found = [s for (o, _), s in self._items.items() if o == owner]
        return sorted(found, key=lambda s: (s.name, s.id))

    def get(self, owner: str, search_id: str) -> SavedSearch:
        try:
            return self._items[(owner, search_id)]
        except KeyError:
            raise SavedSearchNotFound("No saved search with this id belongs to you.") from None

    def put(self, search: SavedSearch) -> SavedSearch:
        old = self._items.get((search.owner, search.id))
        if old is not None:
            search = dataclasses.replace(search, created=old.created)
        self._items[(search.owner, search.id)] = search
        return search

    def delete(self, owner: str, search_id: str) -> None:
        self.get(owner, search_id)
        del self._items[(owner, search_id)]
