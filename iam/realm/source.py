"""Reading realm files: YAML with source lines kept, ``${var}`` substitution, typed field access.

pySigma's lesson: a rule file is data loaded into typed objects, and every complaint names where
in the file it comes from. :func:`load_yaml` keeps the line of every mapping key and sequence
item under its dotted path (``client_scopes[1].mappers[0].config``), and :class:`Reader` collects
:class:`Finding` values instead of raising on the first problem, so one run reports them all.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import yaml

from iam.realm.errors import RealmFileInvalid

T = TypeVar("T")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a realm file: the dotted YAML path, its line (1-based, 0 if unknown)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}{self.path or '<root>'}: {self.message}"


def load_yaml(text: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML (safe subset) and return the data with a path -> line map."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise RealmFileInvalid([Finding("", line, "not valid YAML")]) from exc
    lines: dict[str, int] = {}
    if node is None:
        return {}, lines
    _record(node, "", lines)
    return yaml.safe_load(text), lines


def _record(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            lines[child] = key.start_mark.line + 1
            _record(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, f"{path}[{index}]", lines)


def substitute(value: Any, variables: Mapping[str, str], path: str, sink: list[Finding]) -> Any:
    """Replace ``${name}`` in every string; an unknown name is a finding at its path."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                sink.append(Finding(path, 0, f"unknown variable ${{{name}}}"))
                return match.group(0)
            return variables[name]

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {
            k: substitute(v, variables, f"{path}.{k}" if path else str(k), sink)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute(v, variables, f"{path}[{i}]", sink) for i, v in enumerate(value)]
    return value


class Reader:
    """Typed access to one YAML mapping; wrong types and unknown keys become findings."""

    def __init__(
        self, data: Any, path: str, lines: Mapping[str, int], findings: list[Finding]
    ) -> None:
        self.path = path
        self._lines = lines
        self.findings = findings
        self._seen: set[str] = set()
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.fail("must be a mapping")
            data = {}
        self._data: dict[str, Any] = data

    def _child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, message: str, key: str | None = None) -> None:
        path = self._child(key) if key is not None else self.path
        line = self._lines.get(path) or self._lines.get(self.path, 0)
        self.findings.append(Finding(path, line, message))

    def has(self, key: str) -> bool:
        return key in self._data

    def names(self) -> list[str]:
        """The mapping's own keys (for mappings keyed by name, not by a fixed schema)."""
        return [str(key) for key in self._data]

    def _get(self, key: str, kind: type[T], default: T, label: str) -> T:
        self._seen.add(key)
        if key not in self._data or self._data[key] is None:
            return default
        value = self._data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return value  # type: ignore[return-value]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(f"must be {label}", key)
            return default
        return value

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        if required and key not in self._data:
            self.fail("is required", key)
        return self._get(key, str, default, "a string")

    def integer(self, key: str, default: int = 0, *, minimum: int | None = None) -> int:
        value = self._get(key, int, default, "an integer")
        if minimum is not None and value < minimum:
            self.fail(f"must be at least {minimum}", key)
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        return self._get(key, bool, default, "true or false")

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in options:
            self.fail(f"must be one of {', '.join(options)}", key)
            return default
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        items = self._get(key, list, [], "a list of strings")
        if not all(isinstance(item, str) for item in items):
            self.fail("must be a list of strings", key)
            return ()
        return tuple(items)

    def string_map(self, key: str) -> dict[str, str]:
        """A mapping whose values are sent to Keycloak as strings (its config maps are)."""
        raw = self._get(key, dict, {}, "a mapping")
        out: dict[str, str] = {}
        for name, value in raw.items():
            if isinstance(value, bool):
                out[str(name)] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                out[str(name)] = str(value)
            else:
                self.fail("values must be strings, numbers or booleans", f"{key}.{name}")
        return out

    def sub(self, key: str) -> Reader:
        self._seen.add(key)
        return Reader(self._data.get(key), self._child(key), self._lines, self.findings)

    def items(self, key: str) -> Iterator[Reader]:
        raw = self._get(key, list, [], "a list")
        for index, item in enumerate(raw):
            yield Reader(item, f"{self._child(key)}[{index}]", self._lines, self.findings)

    def each(self, key: str, build: Callable[[Reader], T]) -> tuple[T, ...]:
        out = []
        for item in self.items(key):
            out.append(build(item))
            item.done()
        return tuple(out)

    def done(self) -> None:
        """Report keys nobody asked for: a typo must not be silently ignored."""
        for key in self._data:
            if key not in self._seen:
                self.fail("unknown key", str(key))
