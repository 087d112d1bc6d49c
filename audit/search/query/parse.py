"""The audit query language: a small KQL-like language parsed by Anbao into a typed AST.

Analysts type ``event.action:login AND NOT event.outcome:success``; the text is parsed here, by
Anbao, into the frozen nodes below and compiled from those nodes into Elasticsearch DSL
(:mod:`audit.search.query.elasticsearch`) or parameterised SQL (:mod:`audit.search.query.sql`). The raw text never
reaches Elasticsearch's ``query_string`` and no value is ever interpolated into SQL, so the
language cannot be used to reach fields, scripts or syntax the allow-list does not grant
(MLPS 2.0 L3-CES1-14: audit records protected against unauthorised access).

Grammar (``NOT`` binds tighter than ``AND``, which binds tighter than ``OR``; adjacent clauses
are joined by ``AND``)::

    query     := [or_expr]
    or_expr   := and_expr ("OR" and_expr)*
    and_expr  := not_expr (["AND"] not_expr)*
    not_expr  := "NOT" not_expr | primary
    primary   := "(" or_expr ")" | FIELD ":" value | FIELD cmp WORD | WORD | PHRASE
    value     := "*" | WORD | PHRASE | "(" values ")" | ("["|"{") bound "TO" bound ("]"|"}")
    cmp       := ">=" | "<=" | ">" | "<"

Every error is a :class:`ParseError` carrying the 0-based character ``position``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from audit.errors import AuditError
from audit.model import FIELDS, FieldSpec
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
from audit.search.query.values import check_bound, check_term, check_wildcard


class ParseError(AuditError):
    """The query text is not valid; ``position`` points at the offending character."""

    code = "audit_query_invalid"
    title = "Invalid audit query"

    def __init__(self, detail: str, position: int) -> None:
        super().__init__(f"{detail} (at position {position})")
        self.position = position
        self.problem_extra = {"position": position}


#: Fields the language may name: the model's fields minus personal data (searching a sensitive
#: field would turn the search API into an oracle for it) and the free-form ``labels`` object.
SEARCHABLE: Mapping[str, FieldSpec] = {
    name: spec for name, spec in FIELDS.items() if not spec.sensitive and name != "labels"
}


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one query from costing the cluster more than an analyst's question.

    Wildcards are expensive (each pattern is expanded against the term dictionary), so their
    number, their metacharacters and a leading wildcard are limited; a leading ``*`` forces a
    scan of every term and is refused unless an operator allows it.
    """

    max_length: int = 2000
    max_depth: int = 16
    max_clauses: int = 64
    allow_leading_wildcard: bool = False
    max_wildcard_terms: int = 4
    max_wildcard_chars: int = 4


KEYWORDS = frozenset({"AND", "OR", "NOT", "TO"})
#: Characters that end a bare word; inside a word they must be escaped with ``\``.
SPECIAL = frozenset('()[]{}"\\:<>=')
_VALUE_STOP = frozenset('()[]{}"')
_FIELD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-")


def parse(
    text: str, fields: Mapping[str, FieldSpec] = SEARCHABLE, limits: Limits | None = None
) -> Node:
    """Parse ``text`` into an AST over the allow-listed ``fields``; raise :class:`ParseError`."""
    return _Parser(text, fields, limits or Limits()).parse()


def _is_space(ch: str) -> bool:
    return ch.isspace()


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, FieldSpec], limits: Limits) -> None:
        if len(text) > limits.max_length:
            raise ParseError(f"The query is longer than {limits.max_length} characters", 0)
        self.text = text
        self.pos = 0
        self.fields = fields
        self.limits = limits
        self.clauses = 0
        self.wildcards = 0
        self.depth = 0

    # -- driving -------------------------------------------------------------------------

    def parse(self) -> Node:
        self._skip()
        if self._at_end():
            return MatchAll()
        node = self._or(None)
        self._skip()
        if not self._at_end():
            raise self._error(f"Unexpected {self._describe()}")
        return node

    def _error(self, detail: str, position: int | None = None) -> ParseError:
        return ParseError(detail, self.pos if position is None else position)

    def _at_end(self) -> bool:
        return self.pos >= len(self.text)

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip(self) -> None:
        while self.pos < len(self.text) and _is_space(self.text[self.pos]):
            self.pos += 1

    def _describe(self) -> str:
        return f"'{self._peek()}'" if not self._at_end() else "end of query"

    def _keyword(self, word: str) -> bool:
        """Consume ``word`` (any case) if it stands alone here; operators need a boundary."""
        self._skip()
        end = self.pos + len(word)
        if self.text[self.pos : end].upper() != word:
            return False
        if end < len(self.text) and not (_is_space(self.text[end]) or self.text[end] in '()"'):
            return False
        self.pos = end
        return True

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise self._error(f"Nesting is deeper than {self.limits.max_depth} levels")

    # -- boolean structure ---------------------------------------------------------------

    def _or(self, field: str | None) -> Node:
        items = [self._and(field)]
        while self._keyword("OR"):
            items.append(self._and(field))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, field: str | None) -> Node:
        items = [self._not(field)]
        while True:
            self._skip()
            if self._at_end() or self._peek() == ")":
                break
            start = self.pos
            if self._keyword("OR"):
                self.pos = start
                break
            self._keyword("AND")
            items.append(self._not(field))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _not(self, field: str | None) -> Node:
        if self._keyword("NOT"):
            self._enter()
            node = Not(self._not(field))
            self.depth -= 1
            return node
        return self._primary(field)

    def _primary(self, field: str | None) -> Node:
        self._skip()
        ch = self._peek()
        if ch == "(":
            return self._group(field)
        if ch == '"':
            start = self.pos
            text = self._quoted()
            self._typed(check_term, field, text, start)
            return self._count(Phrase(field, text))
        if ch == "" or ch in ")]}":
            raise self._error(f"Expected a search term, found {self._describe()}")
        start = self.pos
        word, pattern = self._word(stop=SPECIAL if field is None else _VALUE_STOP)
        if not word and pattern is None:
            raise self._error(f"Expected a search term, found {self._describe()}")
        if word.upper() in KEYWORDS and pattern is None and self.text[start] != "\\":
            raise self._error(f"'{word}' is an operator; quote it to search for the word", start)
        if field is None and self._peek() in (":", "<", ">", "="):
            return self._field_clause(self._field_name(word, start, pattern))
        return self._value(field, word, pattern, start)

    def _group(self, field: str | None) -> Node:
        open_at = self.pos
        self.pos += 1
        self._enter()
        self._skip()
        if self._peek() == ")":
            raise self._error("Empty parentheses")
        node = self._or(field)
        self._skip()
        if self._peek() != ")":
            raise self._error(
                f"Expected ')' to close the '(' at {open_at}, found {self._describe()}"
            )
        self.pos += 1
        self.depth -= 1
        return node

    # -- field clauses -------------------------------------------------------------------

    def _field_name(self, word: str, start: int, pattern: str | None) -> str:
        if pattern is not None or not word or not set(word) <= _FIELD_CHARS:
            raise self._error("A field name holds letters, digits and . _ @ - only", start)
        if word not in self.fields:
            raise self._error(f"Unknown or non-searchable field '{word}'", start)
        return word

    def _field_clause(self, name: str) -> Node:
        ch = self._peek()
        if ch in ("<", ">"):
            return self._comparison(name)
        if ch == "=":
            raise self._error("Use ':' to match a value ('=' is only part of >= and <=)")
        self.pos += 1  # ':'
        self._skip()
        ch = self._peek()
        if ch in ("[", "{"):
            return self._range(name)
        if ch == "*" and self._bare_star():
            self.pos += 1
            return self._count(Exists(name))
        if ch == "" or ch in ")]}":
            raise self._error(f"Expected a value for '{name}', found {self._describe()}")
        return self._primary(name)

    def _bare_star(self) -> bool:
        nxt = self.text[self.pos + 1 : self.pos + 2]
        return nxt == "" or _is_space(nxt) or nxt == ")"

    def _comparison(self, name: str) -> Node:
        op = self._peek()
        self.pos += 1
        inclusive = self._peek() == "="
        if inclusive:
            self.pos += 1
        self._skip()
        start = self.pos
        bound = self._bound(name)
        if bound is None:
            raise self._error("A comparison needs a value, not '*'", start)
        if op == ">":
            return self._count(Range(name, bound, None, include_lower=inclusive))
        return self._count(Range(name, None, bound, include_upper=inclusive))

    def _range(self, name: str) -> Node:
        include_lower = self._peek() == "["
        self.pos += 1
        self._skip()
        lower = self._bound(name)
        if not self._keyword("TO"):
            raise self._error(f"Expected 'TO' in the range, found {self._describe()}")
        self._skip()
        upper = self._bound(name)
        self._skip()
        if self._peek() not in ("]", "}"):
            raise self._error(f"Expected ']' or '}}' to close the range, found {self._describe()}")
        include_upper = self._peek() == "]"
        self.pos += 1
        return self._count(Range(name, lower, upper, include_lower, include_upper))

    def _bound(self, name: str) -> str | None:
        """A range bound: a word or a phrase; a lone ``*`` means unbounded."""
        self._skip()
        start = self.pos
        bound = self._bound_text(start)
        if bound is not None:
            try:
                check_bound(self.fields[name], bound)
            except ValueError as exc:
                raise self._error(str(exc), start) from None
        return bound

    def _bound_text(self, start: int) -> str | None:
        if self._peek() == '"':
            return self._quoted()
        word, pattern = self._word(stop=SPECIAL - {":"} | {"]", "}"})
        if pattern == "*":
            return None
        if pattern is not None:
            raise self._error("Wildcards are not allowed in a range", start)
        if not word or word.upper() == "TO":
            raise self._error(f"Expected a range bound, found {self._describe()}", start)
        return word

    # -- values --------------------------------------------------------------------------

    def _value(self, field: str | None, word: str, pattern: str | None, start: int) -> Node:
        if pattern is None:
            self._typed(check_term, field, word, start)
            return self._count(Term(field, word))
        self._check_wildcard(pattern, start)
        self._typed(check_wildcard, field, pattern, start)
        return self._count(Wildcard(field, pattern))

    def _typed(
        self, check: Callable[[FieldSpec | None, str], None], field: str | None, value: str, at: int
    ) -> None:
        """Type-check a value where it was typed, so the error points at it."""
        try:
            check(None if field is None else self.fields[field], value)
        except ValueError as exc:
            raise self._error(str(exc), at) from None

    def _check_wildcard(self, pattern: str, start: int) -> None:
        self.wildcards += 1
        if self.wildcards > self.limits.max_wildcard_terms:
            raise self._error(
                f"More than {self.limits.max_wildcard_terms} wildcard terms in one query", start
            )
        metas = _metachars(pattern)
        if len(metas) > self.limits.max_wildcard_chars:
            raise self._error(
                f"More than {self.limits.max_wildcard_chars} wildcards in one term", start
            )
        if metas and metas[0] == 0 and not self.limits.allow_leading_wildcard:
            raise self._error("A leading wildcard is not allowed", start)

    def _count(self, node: Node) -> Node:
        self.clauses += 1
        if self.clauses > self.limits.max_clauses:
            raise self._error(f"More than {self.limits.max_clauses} clauses in one query")
        return node

    def _quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            ch = self._peek()
            if ch == "":
                raise self._error("Unterminated quoted phrase", start)
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\\":
                nxt = self._peek()
                if nxt == "":
                    raise self._error("Unterminated quoted phrase", start)
                out.append(nxt)
                self.pos += 1
            else:
                out.append(ch)

    def _word(self, stop: frozenset[str]) -> tuple[str, str | None]:
        """Read a bare word: (literal text, wildcard pattern or None when it has no wildcard)."""
        literal: list[str] = []
        pattern: list[str] = []
        wild = False
        while not self._at_end():
            ch = self.text[self.pos]
            if _is_space(ch) or (ch in stop and ch != "\\"):
                break
            self.pos += 1
            if ch == "\\":
                if self._at_end():
                    raise self._error("A query cannot end with '\\'")
                ch = self.text[self.pos]
                self.pos += 1
                literal.append(ch)
                pattern.append("\\" + ch if ch in "*?\\" else ch)
            elif ch in "*?":
                wild = True
                literal.append(ch)
                pattern.append(ch)
            else:
                literal.append(ch)
                pattern.append(ch)
        return "".join(literal), ("".join(pattern) if wild else None)


def _metachars(pattern: str) -> list[int]:
    """Positions (in unescaped characters) of the ``*``/``?`` metacharacters of a pattern."""
    out: list[int] = []
    index = 0
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
        else:
            if pattern[i] in "*?":
                out.append(index)
            i += 1
        index += 1
    return out


#: The nodes are defined in :mod:`audit.search.query.ast` and re-exported: ``from audit.search.query.parse import Term``.
__all__ = ["SEARCHABLE", "And", "Exists", "Limits", "MatchAll", "Node", "Not", "Or", "ParseError"]
__all__ += ["Phrase", "Range", "Term", "Wildcard", "parse"]
