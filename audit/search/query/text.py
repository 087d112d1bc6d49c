"""The canonical text of a query AST: ``parse(to_text(node)) == node``.

Saved searches keep the analyst's own text; this form is for programs that build queries
(the CLI, SIEM rules, tests) so that they never concatenate user input into query text —
every value is escaped or quoted here, once.
"""

from __future__ import annotations

from audit.search.query.parse import (
    KEYWORDS,
    SPECIAL,
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

_VALUE_SPECIAL = frozenset('()[]{}"\\')


def to_text(node: Node) -> str:
    """Render ``node`` so that :func:`audit.search.query.parse.parse` gives it back unchanged."""
    if isinstance(node, MatchAll):
        return ""
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return joiner.join(_operand(n) for n in node.operands)
    if isinstance(node, Not):
        return "NOT " + _operand(node.operand)
    if isinstance(node, Exists):
        return f"{node.field}:*"
    if isinstance(node, Range):
        return _range(node)
    return _leaf(node)


def _leaf(node: Node) -> str:
    assert isinstance(node, Term | Phrase | Wildcard)  # noqa: S101 - exhaustive above
    prefix = "" if node.field is None else f"{node.field}:"
    if isinstance(node, Phrase):
        return prefix + quote(node.text)
    special = SPECIAL if node.field is None else _VALUE_SPECIAL
    if isinstance(node, Term):
        return prefix + escape_word(node.value, special)
    return prefix + _escape_pattern(node.pattern, special)


def _range(node: Range) -> str:
    low = "[" if node.include_lower else "{"
    high = "]" if node.include_upper else "}"
    return f"{node.field}:{low}{_bound(node.lower)} TO {_bound(node.upper)}{high}"


def _operand(node: Node) -> str:
    text = to_text(node)
    return f"({text})" if isinstance(node, And | Or) else text


def _bound(value: str | None) -> str:
    return "*" if value is None else quote(value)


def quote(text: str) -> str:
    """A quoted phrase; ``"`` and ``\\`` are escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def escape_word(value: str, special: frozenset[str] = SPECIAL) -> str:
    """A bare word matching ``value`` literally (no wildcard, never read as an operator)."""
    out = "".join(
        "\\" + ch if ch in special or ch in "*?\\" or ch.isspace() else ch for ch in value
    )
    return "\\" + out if value.upper() in KEYWORDS else out


def _escape_pattern(pattern: str, special: frozenset[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append("\\" + ch if (ch in special or ch.isspace()) else ch)
        i += 1
    return "".join(out)
