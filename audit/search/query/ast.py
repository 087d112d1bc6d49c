"""The typed syntax tree of the audit query language (built by :func:`audit.search.query.parse.parse`).

Frozen, hashable nodes: equal queries compare equal whatever their spacing or the case of their
operators, which is what the parser's round-trip property tests rely on.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class MatchAll:
    """The empty query: every event the caller may see."""


@dataclasses.dataclass(frozen=True, slots=True)
class Term:
    """``field:value`` (exact for keywords, a word for text); ``field=None`` is free text."""

    field: str | None
    value: str


@dataclasses.dataclass(frozen=True, slots=True)
class Phrase:
    """A quoted phrase: the words in this order (text), or the exact value (keyword)."""

    field: str | None
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Wildcard:
    """``*`` (any run) and ``?`` (one character); ``\\`` escapes a literal ``*``, ``?``, ``\\``."""

    field: str | None
    pattern: str


@dataclasses.dataclass(frozen=True, slots=True)
class Range:
    """Bounds are raw text until :mod:`audit.query_bind` types them; ``None`` is unbounded."""

    field: str
    lower: str | None
    upper: str | None
    include_lower: bool = True
    include_upper: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Exists:
    field: str


@dataclasses.dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclasses.dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = MatchAll | Term | Phrase | Wildcard | Range | Exists | Not | And | Or


def fields_in(node: Node) -> set[str]:
    """The fields a query names (for auditing who searched what)."""
    if isinstance(node, And | Or):
        return set().union(*(fields_in(n) for n in node.operands))
    if isinstance(node, Not):
        return fields_in(node.operand)
    field = getattr(node, "field", None)
    return {field} if field else set()
