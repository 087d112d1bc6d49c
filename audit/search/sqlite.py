"""Audit search on the embedded store: compiled SQL over ``events`` plus the ``events_words`` FTS.

Reads use their own connection per thread (WAL lets readers run beside the writer), so a long
search never holds the store's write lock. :func:`ensure_schema` adds what search needs to the
store's database once: the per-field FTS5 table with its triggers (backfilled for rows written
before it existed) and indexes on the stored-field columns analysts filter on most.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.errors import AuditStoreUnavailable
from audit.search.model import (
    TOP_FIELDS,
    TOTAL_CAP,
    Aggregations,
    Bucket,
    Page,
    SearchSpec,
    bucket_key,
)
from audit.search.query.elasticsearch import FREE_TEXT_FIELDS
from audit.search.query.sql import (
    STORED_FIELDS,
    SqlLayout,
    compile_where,
    fts_schema,
    register_functions,
)
from audit.sql.sqlite import connect

#: ``PRAGMA user_version`` of a store :func:`ensure_schema` has brought up to date. 2: stored
#: fields in plain columns, FTS rows written by the store (1 and 0: triggers and expressions).
SCHEMA_VERSION = 2


def ensure_schema(path: str | Path, layout: SqlLayout | None = None) -> None:
    """Create the search FTS table, its triggers and indexes if missing, and bring a store
    written by an earlier version up to date (idempotent; rows already there are indexed)."""
    layout = layout or SqlLayout()
    conn = connect(path, wal=False)
    try:
        conn.execute("BEGIN IMMEDIATE")
        words_missing = not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ?", (layout.fts,)
        ).fetchone()
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            _upgrade(conn, layout)
        for statement in fts_schema(layout):
            conn.execute(statement)
        if words_missing:
            _index_words(conn, layout)
        for field in STORED_FIELDS:
            column = layout.column(field)
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {layout.table}_{column} ON {layout.table}({column})"
            )
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise AuditStoreUnavailable("The embedded audit database cannot be prepared.") from exc
    finally:
        conn.close()


def _upgrade(conn: sqlite3.Connection, layout: SqlLayout) -> None:
    """From the trigger-maintained layout: stored-field columns added and filled, the old
    expression indexes and insert trigger dropped (the update trigger is recreated)."""
    t, fts = layout.table, layout.fts
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({t})")}
    for field in STORED_FIELDS:
        column = layout.column(field)
        conn.execute(f"DROP INDEX IF EXISTS {t}_{field.replace('.', '_')}")
        if column not in have:
            conn.execute(f"ALTER TABLE {t} ADD COLUMN {column}")
            conn.execute(
                f"UPDATE {t} SET {column} = json_extract({layout.doc}, {layout.path(field)})"  # noqa: S608 - layout identifiers
            )
    conn.execute(f"DROP TRIGGER IF EXISTS {fts}_ai")
    conn.execute(f"DROP TRIGGER IF EXISTS {fts}_au")


def _index_words(conn: sqlite3.Connection, layout: SqlLayout) -> None:
    """Fill a new FTS table from the rows already there."""
    cols = ", ".join(f"c{i}" for i in range(len(FREE_TEXT_FIELDS)))
    values = ", ".join(f"json_extract({layout.doc}, {layout.path(f)})" for f in FREE_TEXT_FIELDS)
    conn.execute(
        f"INSERT INTO {layout.fts}(rowid, {cols}) "  # noqa: S608 - layout identifiers
        f"SELECT rowid, {values} FROM {layout.table}"
    )


class SqliteSearch:
    """:class:`audit.search.model.SearchBackend` for the embedded store at ``path``."""

    def __init__(
        self, path: str | Path, *, clock: Callable[[], dt.datetime], layout: SqlLayout | None = None
    ) -> None:
        self.path = str(path)
        self.layout = layout or SqlLayout()
        self._clock = clock
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, read_only=True)
            register_functions(conn)
            self._local.conn = conn
        return conn

    def _where(self, spec: SearchSpec) -> tuple[str, list[Any]]:
        return compile_where(spec.effective_query(), self._clock(), self.layout)

    def _run(self, sql: str, params: list[Any]) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AuditStoreUnavailable("The embedded audit database cannot be searched.") from exc

    def search(self, spec: SearchSpec) -> Page:
        where, params = self._where(spec)
        order = spec.order()
        keys = [self.layout.column(field) for field, _ in order]
        after_sql, after_params = _after(keys, order, spec.search_after)
        t = self.layout.table
        rows = self._run(
            f"SELECT {self.layout.doc}, {', '.join(keys)} FROM {t} "  # noqa: S608 - compiled
            f"WHERE {where}{after_sql} ORDER BY "
            + ", ".join(f"{k} {d.upper()}" for k, (_, d) in zip(keys, order, strict=True))
            + " LIMIT ?",
            [*params, *after_params, spec.size],
        )
        count = self._run(
            f"SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {where} LIMIT ?)",  # noqa: S608
            [*params, TOTAL_CAP + 1],
        )[0][0]
        documents = tuple(json.loads(row[0]) for row in rows)
        cursor = tuple(rows[-1][1:]) if rows and len(rows) == spec.size else None
        return Page(documents, min(count, TOTAL_CAP), count <= TOTAL_CAP, cursor)

    def aggregate(self, spec: SearchSpec, interval_seconds: int, top_size: int) -> Aggregations:
        where, params = self._where(spec)
        t, ts = self.layout.table, self.layout.column("@timestamp")
        bucket = f"(CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER) / ?) * ?"
        rows = self._run(
            f"SELECT {bucket} AS b, count(*) FROM {t} WHERE {where} "  # noqa: S608 - compiled
            "GROUP BY b ORDER BY b",
            [interval_seconds, interval_seconds, *params],
        )
        histogram = tuple(Bucket(bucket_key(int(b)), int(n)) for b, n in rows)
        top = {field: self._top(field, where, params, top_size) for field in TOP_FIELDS}
        return Aggregations(interval_seconds, histogram, top)

    def _top(self, field: str, where: str, params: list[Any], size: int) -> tuple[Bucket, ...]:
        column = self.layout.column(field)
        tie = f"anbao_ip_key({column})" if field == "source.ip" else column
        rows = self._run(
            f"SELECT {column} AS v, count(*) AS n FROM {self.layout.table} "  # noqa: S608
            f"WHERE {where} AND {column} IS NOT NULL GROUP BY v ORDER BY n DESC, {tie} ASC LIMIT ?",
            [*params, size],
        )
        return tuple(Bucket(str(v), int(n)) for v, n in rows)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _after(
    keys: list[str], order: tuple[tuple[str, str], ...], after: tuple[Any, ...] | None
) -> tuple[str, list[Any]]:
    """Keyset pagination: rows strictly after ``after`` in the (mixed-direction) sort order."""
    if after is None:
        return "", []
    clauses: list[str] = []
    params: list[Any] = []
    for i, (key, (_, direction)) in enumerate(zip(keys, order, strict=True)):
        op = "<" if direction == "desc" else ">"
        equal = [f"{k} = ?" for k in keys[:i]]
        clauses.append("(" + " AND ".join([*equal, f"{key} {op} ?"]) + ")")
        params += [*after[:i], after[i]]
    return " AND (" + " OR ".join(clauses) + ")", params
