"""Compile a pySigma condition tree into a Python predicate over an audit document, once.

The tree comes from ``SigmaCondition.parsed`` after the ``anbao`` pipeline mapped field names.
Matching follows the Sigma specification (v2, "Detection"): string values compare
case-insensitively unless the ``cased`` modifier is used; ``*``/``?`` are wildcards; a list field
matches when any element does; ``null`` means the field is absent or empty; ``cidr``, ``re``,
``gt``/``gte``/``lt``/``lte``, ``exists`` and ``fieldref`` work as specified. Keyword (field-less)
values match any string leaf of the document.

Closures, not an interpreter: each node becomes one small function built at load time, so the per
event cost is a few dict lookups and string comparisons (see ``bench/siem.py``).
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from siem.errors import RuleUnsupported

Doc = Mapping[str, Any]
Predicate = Callable[[Doc], bool]
_MISSING = object()
#: What :func:`field_getter` returns for an absent field.
MISSING: Any = _MISSING
_COMPARE = {
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
}


@functools.lru_cache(maxsize=4096)
def field_getter(name: str) -> Callable[[Doc], Any]:
    """A getter for a dotted field of a nested document (``_MISSING`` when absent).

    Specialised for one to three levels (the hot path); deeper names and flat keys holding dots
    (``labels`` written as one key) use the general walk.
    """
    parts = name.split(".")
    if len(parts) == 1:
        return lambda doc: doc.get(name, _MISSING)
    if len(parts) == 2:  # noqa: PLR2004 - the common ECS depth
        a, b = parts

        def get2(doc: Doc) -> Any:
            node = doc.get(a)
            if isinstance(node, dict):
                return node.get(b, _MISSING)
            return doc.get(name, _MISSING) if node is None else _MISSING

        return get2
    if len(parts) == 3:  # noqa: PLR2004 - e.g. http.response.status_code
        a, b, c = parts

        def get3(doc: Doc) -> Any:
            node = doc.get(a)
            if isinstance(node, dict):
                inner = node.get(b)
                if isinstance(inner, dict):
                    return inner.get(c, _MISSING)
            return _walk(doc, parts)

        return get3
    return lambda doc: _walk(doc, parts)


def _walk(doc: Doc, parts: list[str]) -> Any:
    node: Any = doc
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping):
            return _MISSING
        if part in node:
            node = node[part]
            continue
        return node.get(".".join(parts[i:]), _MISSING)
    return node


def get_value(doc: Doc, name: str) -> Any:
    """The value of a dotted field, or ``None`` when absent."""
    value = field_getter(name)(doc)
    return None if value is _MISSING else value


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif value is not _MISSING and value is not None:
        yield value


def _string_test(value: SigmaString) -> Callable[[Any], bool]:
    cased = isinstance(value, SigmaCasedString)
    if not value.contains_special():
        plain = value.to_plain()
        if cased:
            return lambda v: v == plain or (type(v) is int and str(v) == plain)
        folded = plain.casefold()

        size = len(plain)

        def equal(v: Any) -> bool:
            if v == plain:
                return True
            if type(v) is str:  # ASCII case folding keeps the length: cheap reject first
                return not (v.isascii() and len(v) != size) and v.casefold() == folded
            return type(v) is int and str(v).casefold() == folded

        return equal
    pattern = ""
    for part in value.iter_parts():
        if part is SpecialChars.WILDCARD_MULTI:
            pattern += ".*"
        elif part is SpecialChars.WILDCARD_SINGLE:
            pattern += "."
        elif isinstance(part, str):
            pattern += re.escape(part)
        else:
            raise RuleUnsupported("placeholders must be resolved before matching")
    flags = re.DOTALL | (0 if cased else re.IGNORECASE)
    regex = re.compile(pattern, flags)
    return lambda v: isinstance(v, str | int) and regex.fullmatch(str(v)) is not None


def _number_test(value: SigmaNumber) -> Callable[[Any], bool]:
    number = value.number

    def test(v: Any) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, int | float):
            return bool(v == number)
        return isinstance(v, str) and v == str(number)

    return test


def _regex_test(value: SigmaRegularExpression) -> Callable[[Any], bool]:
    flags = 0
    table = {
        SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
        SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
        SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
    }
    for flag in value.flags:
        flags |= table[flag]
    regex = re.compile(str(value.regexp), flags)
    return lambda v: isinstance(v, str) and regex.search(v) is not None


def _cidr_test(value: SigmaCIDRExpression) -> Callable[[Any], bool]:
    network = value.network

    def test(v: Any) -> bool:
        try:
            return ipaddress.ip_address(str(v)) in network
        except ValueError:
            return False

    return test


def _compare_test(value: SigmaCompareExpression) -> Callable[[Any], bool]:
    op, bound = _COMPARE[value.op], value.number.number

    def test(v: Any) -> bool:
        try:
            return not isinstance(v, bool) and bool(op(float(v), bound))
        except (TypeError, ValueError):
            return False

    return test


def _value_test(value: Any) -> Callable[[Any], bool]:
    tests: dict[type, Callable[[Any], Callable[[Any], bool]]] = {
        SigmaCasedString: _string_test,
        SigmaString: _string_test,
        SigmaNumber: _number_test,
        SigmaRegularExpression: _regex_test,
        SigmaCIDRExpression: _cidr_test,
        SigmaCompareExpression: _compare_test,
    }
    for kind, build in tests.items():
        if isinstance(value, kind):
            return build(value)
    if isinstance(value, SigmaBool):
        expected = value.boolean
        return lambda v: v is expected or str(v).lower() == str(expected).lower()
    if isinstance(value, SigmaExpansion):
        subs = [_value_test(v) for v in value.values]
        return lambda v: any(t(v) for t in subs)
    raise RuleUnsupported(f"value type {type(value).__name__} is not supported")


def _field_predicate(item: ConditionFieldEqualsValueExpression) -> Predicate:
    get = field_getter(item.field)
    value = item.value
    if isinstance(value, SigmaNull):
        return lambda d: get(d) in (_MISSING, None, "", [], {})
    if isinstance(value, SigmaExists):
        wanted = bool(value.exists)
        return lambda d: (get(d) not in (_MISSING, None, "", [], {})) is wanted
    if isinstance(value, SigmaFieldReference):
        other = field_getter(value.field)

        def same(d: Doc) -> bool:
            a, b = get(d), other(d)
            return a not in (_MISSING, None, "") and a == b

        return same
    test = _value_test(value)

    def match(d: Doc) -> bool:
        v = get(d)
        if v is _MISSING:
            return False
        if type(v) is list:
            return any(test(x) for x in v)
        return test(v)

    return match


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:  # noqa: PLR2004 - unrolled: no generator per event
        a, b = parts
        return lambda d: a(d) and b(d)
    if len(parts) == 3:  # noqa: PLR2004
        a, b, c = parts
        return lambda d: a(d) and b(d) and c(d)
    first, rest = parts[0], _all(parts[1:])
    return lambda d: first(d) and rest(d)


def _any(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:  # noqa: PLR2004
        a, b = parts
        return lambda d: a(d) or b(d)
    first, rest = parts[0], _any(parts[1:])
    return lambda d: first(d) or rest(d)


def _one_of(args: list[Any]) -> Predicate | None:
    """``field: [a, b, c]`` (an OR of plain strings on one field) as one set lookup."""
    fields = {a.field for a in args if isinstance(a, ConditionFieldEqualsValueExpression)}
    plain = all(
        isinstance(a, ConditionFieldEqualsValueExpression)
        and type(a.value) is SigmaString
        and not a.value.contains_special()
        for a in args
    )
    if len(fields) != 1 or not plain:
        return None
    get = field_getter(fields.pop())
    exact = frozenset(a.value.to_plain() for a in args)
    folded = frozenset(v.casefold() for v in exact)

    def test(v: Any) -> bool:
        if v in exact:
            return True
        return isinstance(v, str | int) and str(v).casefold() in folded

    def match(d: Doc) -> bool:
        v = get(d)
        if v is _MISSING:
            return False
        if type(v) is list:
            return any(test(x) for x in v)
        return test(v)

    return match


def compile_condition(node: Any) -> Predicate:
    """The predicate for a (post-processed) pySigma condition tree node."""
    if isinstance(node, ConditionAND):
        return _all([compile_condition(a) for a in node.args])
    if isinstance(node, ConditionOR):
        return _one_of(node.args) or _any([compile_condition(a) for a in node.args])
    if isinstance(node, ConditionNOT):
        inner = compile_condition(node.args[0])
        return lambda d: not inner(d)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_predicate(node)
    if isinstance(node, ConditionValueExpression):
        test = _value_test(node.value)
        return lambda d: any(test(leaf) for leaf in _leaves(d))
    raise RuleUnsupported(f"condition node {type(node).__name__} is not supported")


def compile_rule(conditions: list[Any]) -> Predicate:
    """A rule matches when any of its conditions does (Sigma: a list of conditions is OR)."""
    parts = [compile_condition(c.parsed) for c in conditions]
    return _any(parts)


#: A residual predicate, or the constant the condition folded to.
Folded = Predicate | bool


def _fields(node: Any) -> set[str] | None:
    """Fields a condition reads, ``None`` when it reads the whole document (keywords)."""
    if isinstance(node, ConditionAND | ConditionOR | ConditionNOT):
        out: set[str] = set()
        for arg in node.args:
            sub = _fields(arg)
            if sub is None:
                return None
            out |= sub
        return out
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if isinstance(node.value, SigmaFieldReference):
            return {node.field, node.value.field}
        return {node.field}
    return None


def _fold_all(parts: list[Folded]) -> Folded:
    if any(p is False for p in parts):
        return False
    rest = [p for p in parts if not isinstance(p, bool)]
    return _all(rest) if rest else True


def _fold_any(parts: list[Folded]) -> Folded:
    if any(p is True for p in parts):
        return True
    rest = [p for p in parts if not isinstance(p, bool)]
    return _any(rest) if rest else False


def _fold(node: Any, known: frozenset[str], sample: Doc) -> Folded:
    """Partial evaluation: subtrees reading only ``known`` fields become the constant their
    compiled predicate gives on ``sample`` (which holds exactly those fields' values)."""
    fields = _fields(node)
    if fields is not None and fields <= known:
        return bool(compile_condition(node)(sample))
    if isinstance(node, ConditionAND):
        return _fold_all([_fold(a, known, sample) for a in node.args])
    if isinstance(node, ConditionOR):
        return _fold_any([_fold(a, known, sample) for a in node.args])
    if isinstance(node, ConditionNOT):
        inner = _fold(node.args[0], known, sample)
        if isinstance(inner, bool):
            return not inner
        return lambda d: not inner(d)
    return compile_condition(node)


def specialize_rule(conditions: list[Any], known: frozenset[str], sample: Doc) -> Folded:
    """:func:`compile_rule` for documents whose ``known`` fields hold the values ``sample``
    holds: same result on every such document, fewer tests (the streaming engine keeps one per
    distinct value combination of its discriminating fields, see :mod:`siem.engines.streaming`)."""
    return _fold_any([_fold(c.parsed, known, sample) for c in conditions])


__all__ = [
    "MISSING",
    "Folded",
    "Predicate",
    "compile_condition",
    "compile_rule",
    "field_getter",
    "get_value",
    "specialize_rule",
]
