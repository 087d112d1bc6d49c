"""Compile a query AST into Elasticsearch Query DSL (never ``query_string``).

Every clause runs in filter context (no scoring: results are sorted by fields), values come from
:mod:`audit.search.query.values`, so a date or an address means the same here as in
:mod:`audit.search.query.sql`. The index must map the fields as :func:`apply_search_mappings` says: the
``simple`` analyzer indexes the words SQLite FTS5 ``unicode61`` indexes, ``@timestamp``
is ``date_nanos`` (microseconds are kept, so order and ranges equal the embedded store's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from audit.model import FIELDS, FieldSpec, FieldType
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
from audit.search.query.values import Instant, integer, prefix_word, resolve_date, words

#: Fields whose words free text searches (``denied``, ``"access denied"``, ``admin*``).
FREE_TEXT_FIELDS: tuple[str, ...] = (
    "event.reason",
    "user_agent.original",
    "event.action",
    "user.name",
    "resource.name",
    "url.path",
)
WORDS_SUBFIELD = "words"
#: Built into every Elasticsearch distribution: letter runs, lower-cased (see ``words``).
ANALYZER = "simple"


def words_field(name: str) -> str:
    """The analysed field holding ``name``'s words: text fields themselves, keywords a subfield."""
    return name if FIELDS[name].type is FieldType.TEXT else f"{name}.{WORDS_SUBFIELD}"


def apply_search_mappings(template: dict[str, Any]) -> dict[str, Any]:
    """Add what search needs to a composable index template (``template.settings/mappings``).

    The ``simple`` analyzer on the text fields and a ``words`` subfield on the keyword fields
    free text covers (the same words as the SQLite FTS5 table), and ``@timestamp`` as
    ``date_nanos``: the model keeps microseconds, and millisecond ``date`` would order events of
    one millisecond differently from the embedded store and round range bounds.
    """
    body = template.setdefault("template", {})
    props = body.setdefault("mappings", {}).setdefault("properties", {})
    props["@timestamp"] = {"type": "date_nanos"}
    for name in FREE_TEXT_FIELDS:
        node = props
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        prop = node.setdefault(leaf, {"type": "keyword"})
        if FIELDS[name].type is FieldType.TEXT:
            prop["analyzer"] = ANALYZER
        else:
            prop.setdefault("fields", {})[WORDS_SUBFIELD] = {
                "type": "text",
                "analyzer": ANALYZER,
            }
    return template


def compile_query(
    node: Node, now: dt.datetime, fields: Mapping[str, FieldSpec] = SEARCHABLE
) -> dict[str, Any]:
    """The DSL for ``node``; relative dates resolve against ``now`` (the injected clock)."""
    return _Compiler(now, fields).node(node)


class _Compiler:
    def __init__(self, now: dt.datetime, fields: Mapping[str, FieldSpec]) -> None:
        self.now = now
        self.fields = fields

    def node(self, node: Node) -> dict[str, Any]:  # noqa: PLR0911 - one return per node type
        if isinstance(node, MatchAll):
            return {"match_all": {}}
        if isinstance(node, And):
            return {"bool": {"filter": [self.node(n) for n in node.operands]}}
        if isinstance(node, Or):
            return {
                "bool": {
                    "should": [self.node(n) for n in node.operands],
                    "minimum_should_match": 1,
                }
            }
        if isinstance(node, Not):
            return {"bool": {"must_not": [self.node(node.operand)]}}
        if isinstance(node, Exists):
            return {"exists": {"field": node.field}}
        if node.field is None:
            return self.free_text(node)
        spec = self.fields[node.field]
        if spec.type is FieldType.TEXT:
            return self.words(node.field, node)
        return self.typed(spec, node)

    def free_text(self, node: Term | Phrase | Wildcard | Range) -> dict[str, Any]:
        return {
            "bool": {
                "should": [self.words(words_field(f), node) for f in FREE_TEXT_FIELDS],
                "minimum_should_match": 1,
            }
        }

    def words(self, field: str, node: Term | Phrase | Wildcard | Range) -> dict[str, Any]:
        if isinstance(node, Wildcard):
            return {"prefix": {field: {"value": prefix_word(node.pattern)}}}
        assert isinstance(node, Term | Phrase)  # noqa: S101 - the parser allows nothing else
        found = words(node.value if isinstance(node, Term) else node.text)
        if len(found) == 1:
            return {"term": {field: found[0]}}
        return {"match_phrase": {field: {"query": " ".join(found), "analyzer": ANALYZER}}}

    def typed(self, spec: FieldSpec, node: Term | Phrase | Wildcard | Range) -> dict[str, Any]:
        name = spec.name
        if isinstance(node, Wildcard):
            return {"wildcard": {name: {"value": node.pattern}}}
        if isinstance(node, Range):
            bounds = self.bounds(spec, node)
            return {"range": {name: bounds}} if bounds else {"exists": {"field": name}}
        value = node.value if isinstance(node, Term) else node.text
        if spec.type is FieldType.DATE:
            instant = resolve_date(value, self.now)
            if instant.day:
                return {"range": {name: {"gte": instant.text(), "lt": instant.day_end()}}}
            return {"term": {name: instant.text()}}
        if spec.type in (FieldType.LONG, FieldType.INTEGER):
            return {"term": {name: integer(value)}}
        return {"term": {name: value}}

    def bounds(self, spec: FieldSpec, node: Range) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for bound, inclusive, low in (
            (node.lower, node.include_lower, True),
            (node.upper, node.include_upper, False),
        ):
            if bound is None:
                continue
            op, value = typed_bound(spec, bound, inclusive=inclusive, lower=low, now=self.now)
            out[op] = value
        return out


def typed_bound(
    spec: FieldSpec, bound: str, *, inclusive: bool, lower: bool, now: dt.datetime
) -> tuple[str, Any]:
    """(``gt``/``gte``/``lt``/``lte``, value); a whole day counts as a unit at either end."""
    if spec.type is FieldType.DATE:
        instant: Instant = resolve_date(bound, now)
        if instant.day:
            # [2026-11-01 TO 2026-11-02] covers both days; {2026-11-01 TO ...} starts the next.
            start_next = lower != inclusive
            return ("gte" if lower else "lt"), (instant.day_end() if start_next else instant.text())
        value: Any = instant.text()
    elif spec.type in (FieldType.LONG, FieldType.INTEGER):
        value = integer(bound)
    else:
        value = bound
    op = ("gt" if lower else "lt") + ("e" if inclusive else "")
    return op, value
