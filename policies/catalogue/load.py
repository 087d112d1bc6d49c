"""Load ``policies/catalogue/controls/*.yaml`` into :class:`policies.model.Catalogue`, validating as it goes.

Validation collects every problem with its ``file:line`` (pySigma-style findings) and raises
:class:`policies.errors.CatalogueInvalid` once, so an editor sees all mistakes at the same time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import yaml

from policies.errors import CatalogueInvalid
from policies.model import Catalogue, Control, Standard, Text

BUILTIN = Path(__file__).parent / "controls"
_REQUIRED = ("id", "section", "clause", "title", "requirement", "evidence", "remediation")


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _plain(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _lines(node: yaml.MappingNode) -> dict[str, int]:
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def _text(raw: Any, where: str, name: str, problems: _Problems) -> Text:
    if (
        not isinstance(raw, dict)
        or set(raw) != {"zh", "en"}
        or not all(isinstance(raw.get(k), str) for k in ("zh", "en"))
    ):
        problems.add(where, f"{name} needs zh and en strings only (quote text with commas)")
        return Text("", "")
    return Text(raw["zh"].strip(), raw["en"].strip())


def _strings(raw: Any, where: str, name: str, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        problems.add(where, f"{name} must be a list of strings")
        return ()
    return tuple(raw)


def _control(
    node: yaml.Node, standard: str, path: Path, known: Collection[str], problems: _Problems
) -> Control | None:
    line = node.start_mark.line + 1
    where = f"{path}:{line}"
    if not isinstance(node, yaml.MappingNode):
        problems.add(where, "a control must be a mapping")
        return None
    raw, lines = _plain(node), _lines(node)
    for key in _REQUIRED:
        if key not in raw:
            problems.add(where, f"control lacks {key!r}")
    unknown = set(raw) - {*_REQUIRED, "checks", "manual"}
    for key in sorted(unknown):
        problems.add(f"{path}:{lines[key]}", f"unknown key {key!r}")
    at = {k: f"{path}:{n}" for k, n in lines.items()}
    checks = _strings(raw.get("checks", []), at.get("checks", where), "checks", problems)
    for check in checks:
        if check not in known:
            problems.add(at["checks"], f"unknown check {check!r}")
    manual = raw.get("manual", False)
    if not isinstance(manual, bool):
        problems.add(at.get("manual", where), "manual must be true or false")
    if not checks and manual is not True:
        problems.add(where, "a control without automated checks must set manual: true")
    return Control(
        id=str(raw.get("id", "")),
        standard=standard,
        section=str(raw.get("section", "")),
        clause=str(raw.get("clause", "")),
        title=_text(raw.get("title"), at.get("title", where), "title", problems),
        requirement=_text(raw.get("requirement"), at.get("requirement", where), "requirement",
                          problems),
        checks=checks,
        evidence=_strings(raw.get("evidence", []), at.get("evidence", where), "evidence", problems),
        remediation=_text(raw.get("remediation"), at.get("remediation", where), "remediation",
                          problems),
        manual=manual is True,
        source=where,
    )  # fmt: skip


def _standard(path: Path, known: Collection[str], problems: _Problems) -> Standard | None:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(f"{path}:{mark.line + 1 if mark else 1}", "malformed YAML")
        return None
    if not isinstance(root, yaml.MappingNode):
        problems.add(f"{path}:1", "expected a mapping with standard, title, controls")
        return None
    fields = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    code = _plain(fields["standard"]) if "standard" in fields else ""
    if not isinstance(code, str) or not code:
        problems.add(f"{path}:1", "standard is required")
    title = _text(_plain(fields["title"]) if "title" in fields else None, f"{path}:1", "title",
                  problems)  # fmt: skip
    controls_node = fields.get("controls")
    if not isinstance(controls_node, yaml.SequenceNode):
        problems.add(f"{path}:1", "controls must be a list")
        return None
    category = None
    if "category" in fields:  # 安全类 of the MLPS report
        category = _text(_plain(fields["category"]), f"{path}:1", "category", problems)
    controls = [_control(n, str(code), path, known, problems) for n in controls_node.value]
    return Standard(str(code), title, tuple(c for c in controls if c is not None), category)


def load_catalogue(
    paths: Iterable[Path] = (BUILTIN,), known_checks: Collection[str] | None = None
) -> Catalogue:
    """Every ``*.yaml`` under ``paths`` (files or directories), in name order per directory."""
    if known_checks is None:
        from policies.checks import REGISTRY  # noqa: PLC0415 - avoid an import cycle

        known_checks = REGISTRY.keys()
    problems = _Problems()
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    standards = [s for f in files if (s := _standard(f, known_checks, problems)) is not None]
    seen: dict[str, str] = {}
    for control in (c for s in standards for c in s.controls):
        if control.id in seen:
            problems.add(
                control.source, f"duplicate id {control.id!r} (first at {seen[control.id]})"
            )
        seen.setdefault(control.id, control.source)
    if problems.items:
        raise CatalogueInvalid(problems.items)
    return Catalogue(tuple(standards))
