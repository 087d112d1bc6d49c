"""Load Sigma rule files with pySigma, keeping file and line of every rule document.

Each YAML document is parsed on its own (``SigmaCollection.from_dicts`` with a
``SigmaRuleLocation`` carrying the document's first line), so every pySigma error and every
finding of :mod:`siem.engines.lint` can name ``file:line``. The documents of all files then form one
collection, whose correlation references are resolved across files (Sigma correlation spec:
``rules:`` names rules by ``id`` or ``name``). The ``anbao`` pipeline (:mod:`siem.engines.pipeline`) is
applied to every rule once, here, so both engines see the mapped field names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from siem.engines.pipeline import anbao_pipeline
from siem.errors import RuleInvalid
from siem.model import (
    RESPONSE_FIELD,
    Finding,
    ResponseAction,
    ResponseKind,
    Rule,
    RuleKind,
    Severity,
    SourceLocation,
)

#: The built-in rule pack (package data).
BUILTIN_RULES: Final = Path(__file__).resolve().parents[1] / "rules"

SigmaAny = SigmaRule | SigmaCorrelationRule


@dataclasses.dataclass(frozen=True, slots=True)
class RuleSet:
    """Loaded rules: Anbao's view (:class:`Rule`) and pySigma's objects (pipeline applied)."""

    rules: tuple[Rule, ...]
    sigma: Mapping[str, SigmaAny]
    collection: SigmaCollection
    findings: tuple[Finding, ...] = ()
    #: Top-level key -> line, per rule id (for lint findings that point at a key).
    key_lines: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)

    def by_id(self, rule_id: str) -> Rule:
        """The rule with this id (``KeyError`` when absent)."""
        return self.rules_by_id()[rule_id]

    def rules_by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """``*.yml``/``*.yaml`` under each directory (sorted), or the file itself."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
        else:
            out.append(path)
    return out


def _documents(path: Path) -> tuple[list[tuple[int, Any, dict[str, int]]], list[Finding]]:
    """(first line, parsed document, key -> line) for each YAML document of ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        datas = list(yaml.safe_load_all(text))
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Finding(str(path), 1, "unreadable", f"cannot read the file ({exc})")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [Finding(str(path), line, "yaml", str(exc).splitlines()[0])]
    docs = []
    for node, data in zip(nodes, datas, strict=True):
        if node is None or data is None:
            continue
        keys: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            keys = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
        docs.append((node.start_mark.line + 1, data, keys))
    return docs, []


def _finding(error: SigmaError, default: SourceLocation) -> Finding:
    source = getattr(error, "source", None)
    path = str(source.path) if source is not None else default.path
    line = source.line if source is not None and source.line else default.line
    message = str(error).split(" in rule ")[0].split(" (while ")[0]
    return Finding(path, line, "sigma", message)


def rule_id(rule: SigmaAny) -> str:
    """Anbao's id of a Sigma rule: its ``id`` (UUID), else its ``name``."""
    return str(rule.id) if rule.id else str(rule.name or rule.title)


def load_rules(paths: Sequence[Path] = (BUILTIN_RULES,), *, strict: bool = True) -> RuleSet:
    """Load every rule under ``paths``; ``strict`` raises :class:`RuleInvalid` on any error."""
    parsed: list[SigmaAny] = []
    findings: list[Finding] = []
    locations: dict[int, SourceLocation] = {}
    key_lines: dict[str, dict[str, int]] = {}
    for path in rule_files(paths):
        docs, errors = _documents(path)
        findings += errors
        for line, data, keys in docs:
            where = SourceLocation(str(path), line)
            if not isinstance(data, dict):
                findings.append(Finding(str(path), line, "yaml", "a rule must be a YAML mapping"))
                continue
            part = SigmaCollection.from_dicts(
                [data],
                collect_errors=True,
                source=SigmaRuleLocation(path, line),
                resolve_references=False,
            )
            findings += [_finding(e, where) for e in part.errors]
            for rule in part.rules:
                locations[id(rule)] = where
                key_lines[rule_id(rule)] = keys
                parsed.append(rule)
    collection = SigmaCollection(list[Any](parsed), resolve_references=False)
    try:
        collection.resolve_rule_references()
    except SigmaError as exc:
        findings.append(_finding(exc, SourceLocation("<rules>", 1)))
    pipeline = anbao_pipeline()
    sigma: dict[str, SigmaAny] = {}
    rules: list[Rule] = []
    for rule in collection.rules:
        where = locations.get(id(rule), SourceLocation("<rules>", 1))
        try:
            pipeline.apply(rule)
            if isinstance(rule, SigmaRule) and not rule.errors:
                for condition in rule.detection.parsed_condition:
                    condition.parse()  # a bad condition fails here, with the rule's location
            rules.append(to_rule(rule, where, collection))
        except (SigmaError, ValueError, TypeError) as exc:
            findings.append(Finding(where.path, where.line, "load", str(exc).split("\n")[0]))
            continue
        sigma[rule_id(rule)] = rule
    result = RuleSet(tuple(rules), sigma, collection, tuple(findings), key_lines)
    if strict and any(f.error for f in findings):
        raise RuleInvalid("; ".join(str(f) for f in findings if f.error)[:2000])
    return result


def _responses(raw: Any) -> tuple[ResponseAction, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{RESPONSE_FIELD} must be a list of actions")  # noqa: TRY004
    out = []
    for entry in raw:
        item = {"action": entry} if isinstance(entry, str) else entry
        if not isinstance(item, dict) or "action" not in item:
            raise ValueError(f"{RESPONSE_FIELD}: each item needs an 'action'")
        try:
            kind = ResponseKind(item["action"])
        except ValueError:
            known = ", ".join(k.value for k in ResponseKind)
            raise ValueError(
                f"{RESPONSE_FIELD}: unknown action {item['action']!r} ({known})"
            ) from None
        approval = item.get("approval", True)
        if not isinstance(approval, bool):
            raise ValueError(f"{RESPONSE_FIELD}: approval must be true or false")  # noqa: TRY004
        out.append(ResponseAction(kind, str(item.get("target", "user.name")), approval))
    return tuple(out)


def _referenced(rule: SigmaAny, collection: SigmaCollection) -> bool:
    """True when a correlation refers to this rule (then it generates nothing by default)."""
    for other in collection.rules:
        if isinstance(other, SigmaCorrelationRule) and any(
            getattr(ref, "rule", None) is rule for ref in other.rules or ()
        ):
            return True
    return False


def to_rule(rule: SigmaAny, where: SourceLocation, collection: SigmaCollection) -> Rule:
    """Anbao's :class:`Rule` for a pySigma rule."""
    level = Severity(rule.level.name.lower()) if rule.level else Severity.MEDIUM
    common: dict[str, Any] = {
        "id": rule_id(rule),
        "title": rule.title,
        "level": level,
        "tags": tuple(str(t) for t in rule.tags),
        "falsepositives": tuple(str(f) for f in (rule.falsepositives or ())),
        "description": rule.description or "",
        "source": where,
        "responses": _responses(rule.custom_attributes.get(RESPONSE_FIELD)),
        "name": str(rule.name or ""),
    }
    if isinstance(rule, SigmaCorrelationRule):
        return Rule(
            kind=RuleKind(rule.type.name.lower()),
            group_by=tuple(rule.group_by or ()),
            timespan_seconds=rule.timespan.seconds,
            **common,
        )
    generate = not _referenced(rule, collection) or any(
        isinstance(o, SigmaCorrelationRule)
        and o.generate
        and any(getattr(r, "rule", None) is rule for r in o.rules or ())
        for o in collection.rules
    )
    return Rule(kind=RuleKind.EVENT, generate=generate, **common)


__all__ = ["BUILTIN_RULES", "RuleSet", "load_rules", "rule_files", "rule_id", "to_rule"]
