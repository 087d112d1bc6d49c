"""The audit query language: a small KQL-like language parsed into a typed AST, then compiled.

Apart from the search use cases because it is a language with its own guarantees (a typed
field vocabulary, bounded size, ``parse(to_text(node)) == node``) and two compilers, one per
store: Elasticsearch Query DSL and a parameterised SQLite ``WHERE`` with FTS5. The SIEM reuses
it to link an alert back to its events.
"""

from audit.search.query.ast import (
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
from audit.search.query.elasticsearch import FREE_TEXT_FIELDS, apply_search_mappings, compile_query
from audit.search.query.parse import Limits, ParseError, parse
from audit.search.query.sql import STORED_FIELDS, SqlLayout, compile_where
from audit.search.query.text import to_text
from audit.search.query.values import resolve_date

__all__ = [
    "FREE_TEXT_FIELDS",
    "STORED_FIELDS",
    "And",
    "Exists",
    "Limits",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "ParseError",
    "Phrase",
    "Range",
    "SqlLayout",
    "Term",
    "Wildcard",
    "apply_search_mappings",
    "compile_query",
    "compile_where",
    "parse",
    "resolve_date",
    "to_text",
]
