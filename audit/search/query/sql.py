"""Compile a query AST into a parameterised SQLite ``WHERE`` clause (FTS5 for words).

Values only ever travel as ``?`` parameters. The only text spliced into SQL is a field's JSON
path, and a field reaches this module only from the allow-list (:data:`audit.search.query.parse.SEARCHABLE`),
never from the query text, so the language cannot inject SQL.

Semantics match :mod:`audit.search.query.elasticsearch` clause by clause: keyword equality and ``GLOB`` are
case-sensitive and byte-ordered like Elasticsearch ``keyword``; a missing field never matches a
positive clause and always matches its negation (``NOT`` is two-valued, as in Elasticsearch);
words are matched in an FTS5 table whose tokenizer splits like Elasticsearch's ``simple``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from audit.model import FieldSpec, FieldType
from audit.search.query.elasticsearch import FREE_TEXT_FIELDS, typed_bound
from audit.search.query.parse import (
    SEARCHABLE,
    And,
    Exists,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    Range,
    Term,
    Wildcard,
)
from audit.search.query.values import (
    integer,
    ip_key,
    network_keys,
    prefix_word,
    resolve_date,
    wildcard_parts,
    words,
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

#: Fields the embedded store copies into a plain, indexed column of its own as it writes each
#: document (those analysts filter and count on most): read there, not with ``json_extract``.
STORED_FIELDS: Mapping[str, str] = {
    "event.outcome": "outcome",
    "source.ip": "source_ip",
    "organization.path": "org_path",
}


@dataclasses.dataclass(frozen=True, slots=True)
class SqlLayout:
    """Where the embedded store keeps events: ``table`` has a ``rowid`` and the JSON ``doc``.

    ``columns`` maps a field to a plain column holding it (faster than ``json_extract``);
    ``fts`` is the FTS5 table of :func:`fts_schema`, keyed by the events' ``rowid``.
    """

    table: str = "events"
    doc: str = "doc"
    fts: str = "events_words"
    columns: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {
            "@timestamp": "ts",
            "event.id": "event_id",
            "anbao.stream": "stream",
            "anbao.sequence": "seq",
            **STORED_FIELDS,
        }
    )

    def __post_init__(self) -> None:
        for name in (self.table, self.doc, self.fts, *self.columns.values()):
            if not _IDENT.match(name):
                raise ValueError(f"Not a plain SQL identifier: {name!r}")

    def path(self, field: str) -> str:
        """The JSON path literal of an allow-listed field (``$."event"."action"``)."""
        parts = (p if _IDENT.match(p) else f'"{p}"' for p in field.split("."))
        return "'$." + ".".join(parts) + "'"

    def column(self, field: str) -> str:
        mapped = self.columns.get(field)
        return mapped if mapped else f"json_extract({self.doc}, {self.path(field)})"


def fts_schema(layout: SqlLayout) -> list[str]:
    """DDL for the FTS5 table and the triggers that keep it (and the stored-field columns) in
    step with the events table when rows are deleted or a document is changed in place.

    Inserts have no trigger: the store's writer fills the FTS row and the stored fields from
    the document it has already parsed (:class:`audit.stores.sqlite.SqliteAuditStore`), which costs a
    third of what a trigger's ``json_extract`` per field did. A row inserted by other means is
    not found by free text until its document is rewritten.
    """
    cols = ", ".join(f"c{i}" for i in range(len(FREE_TEXT_FIELDS)))
    values = ", ".join(
        f"json_extract(new.{layout.doc}, {layout.path(f)})" for f in FREE_TEXT_FIELDS
    )
    stored = ", ".join(
        f"{column} = json_extract(new.{layout.doc}, {layout.path(field)})"
        for field, column in layout.columns.items()
        if field in STORED_FIELDS
    )
    refresh = f"UPDATE {layout.table} SET {stored} WHERE rowid = new.rowid; " if stored else ""  # noqa: S608 - layout identifiers
    t, fts = layout.table, layout.fts
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({cols}, "
        "tokenize = \"unicode61 remove_diacritics 0 separators '0123456789'\")",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {t} BEGIN "  # noqa: S608 - layout identifiers
        f"DELETE FROM {fts} WHERE rowid = old.rowid; END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {layout.doc} ON {t} BEGIN "  # noqa: S608 - layout identifiers
        f"DELETE FROM {fts} WHERE rowid = old.rowid; "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.rowid, {values}); {refresh}END",
    ]


def register_functions(conn: sqlite3.Connection) -> None:
    """SQL functions the compiled clauses call (``anbao_ip_key`` orders IPs as ES does)."""

    def key(value: object) -> bytes | None:
        if not isinstance(value, str):
            return None
        try:
            return ip_key(value)
        except ValueError:
            return None

    conn.create_function("anbao_ip_key", 1, key, deterministic=True)


def compile_where(
    node: Node,
    now: dt.datetime,
    layout: SqlLayout | None = None,
    fields: Mapping[str, FieldSpec] = SEARCHABLE,
) -> tuple[str, list[Any]]:
    """(``WHERE`` expression, parameters) for ``node``; dates resolve against ``now``."""
    compiler = _Compiler(now, layout or SqlLayout(), fields)
    return compiler.node(node), compiler.params


class _Compiler:
    def __init__(
        self, now: dt.datetime, layout: SqlLayout, fields: Mapping[str, FieldSpec]
    ) -> None:
        self.now = now
        self.layout = layout
        self.fields = fields
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def node(self, node: Node) -> str:  # noqa: PLR0911 - one return per node type
        if isinstance(node, MatchAll):
            return "1"
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) else " OR "
            return "(" + joiner.join(self.node(n) for n in node.operands) + ")"
        if isinstance(node, Not):
            return f"NOT coalesce({self.node(node.operand)}, 0)"
        if isinstance(node, Exists):
            return f"{self.layout.column(node.field)} IS NOT NULL"
        if node.field is None:
            return self.fts(None, node)
        spec = self.fields[node.field]
        if spec.type is FieldType.TEXT:
            return self.fts(node.field, node)
        return self.typed(spec, node)

    def fts(self, field: str | None, node: Term | Phrase | Wildcard | Range) -> str:
        """Words go through FTS5; the match string is a parameter built from safe tokens only."""
        if isinstance(node, Wildcard):
            expr = f'"{prefix_word(node.pattern)}" *'
        else:
            assert isinstance(node, Term | Phrase)  # noqa: S101 - the parser allows nothing else
            expr = '"' + " ".join(words(node.value if isinstance(node, Term) else node.text)) + '"'
        if field is not None:
            expr = f"c{FREE_TEXT_FIELDS.index(field)} : {expr}"
        t, fts = self.layout.table, self.layout.fts
        match = self.bind(expr)
        return f"{t}.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH {match})"  # noqa: S608

    def typed(self, spec: FieldSpec, node: Term | Phrase | Wildcard | Range) -> str:  # noqa: PLR0911
        if spec.type is FieldType.IP:
            return self.ip(spec, node)
        if isinstance(node, Wildcard):
            return self.compare(spec, "GLOB", _glob(node.pattern))
        if isinstance(node, Range):
            parts = []
            for bound, inclusive, low in (
                (node.lower, node.include_lower, True),
                (node.upper, node.include_upper, False),
            ):
                if bound is not None:
                    op, value = typed_bound(
                        spec, bound, inclusive=inclusive, lower=low, now=self.now
                    )
                    parts.append(self.compare(spec, _OPS[op], value))
            return "(" + " AND ".join(parts) + ")" if parts else self.exists(spec)
        value = node.value if isinstance(node, Term) else node.text
        if spec.type is FieldType.DATE:
            instant = resolve_date(value, self.now)
            if instant.day:
                start = self.compare(spec, ">=", instant.text())
                return f"({start} AND {self.compare(spec, '<', instant.day_end())})"
            return self.compare(spec, "=", instant.text())
        if spec.type in (FieldType.LONG, FieldType.INTEGER):
            return self.compare(spec, "=", integer(value))
        return self.compare(spec, "=", value)

    def exists(self, spec: FieldSpec) -> str:
        return f"{self.layout.column(spec.name)} IS NOT NULL"

    def compare(self, spec: FieldSpec, op: str, value: Any) -> str:
        if spec.multi:
            return (
                f"EXISTS (SELECT 1 FROM json_each({self.layout.doc}, "  # noqa: S608 - allow-listed path
                f"{self.layout.path(spec.name)}) WHERE value {op} {self.bind(value)})"
            )
        return f"{self.layout.column(spec.name)} {op} {self.bind(value)}"

    def ip(self, spec: FieldSpec, node: Term | Phrase | Wildcard | Range) -> str:
        column = f"anbao_ip_key({self.layout.column(spec.name)})"
        if isinstance(node, Range):
            parts = [
                f"{column} {op} {self.bind(ip_key(bound))}"
                for bound, op in (
                    (node.lower, ">=" if node.include_lower else ">"),
                    (node.upper, "<=" if node.include_upper else "<"),
                )
                if bound is not None
            ]
            return "(" + " AND ".join(parts) + ")" if parts else self.exists(spec)
        assert isinstance(node, Term | Phrase)  # noqa: S101 - wildcards refused by the parser
        first, last = network_keys(node.value if isinstance(node, Term) else node.text)
        return f"{column} BETWEEN {self.bind(first)} AND {self.bind(last)}"


def _glob(pattern: str) -> str:
    """An Elasticsearch wildcard pattern as a SQLite ``GLOB`` pattern (both case-sensitive)."""
    out = []
    for meta, text in wildcard_parts(pattern):
        if meta:
            out.append(text)
        elif text in "*?[":
            out.append(f"[{text}]")
        else:
            out.append(text)
    return "".join(out)
