"""The built-in rule pack, the loader (file:line) and ``anbao siem lint``'s checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from siem.engines.lint import lint
from siem.engines.loader import load_rules
from siem.errors import RuleInvalid
from siem.model import ATTACK_TECHNIQUE_RE, MLPS_TAG_RE, RuleKind

GOOD = """\
title: ok
id: 5f0e5a2e-1111-4c8e-9a41-2b7c5c1c0a01
logsource: {product: anbao, service: audit}
detection:
  s: {event.action: a.b}
  condition: s
level: high
falsepositives: [none]
tags: [attack.t1110, mlps.l3-ces1-12]
"""


def write(tmp_path: Path, text: str, name: str = "r.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_pack_covers_the_threats_with_tags() -> None:
    ruleset = load_rules()
    raising = [r for r in ruleset.rules if r.generate]
    assert len(raising) >= 20
    for rule in raising:
        assert any(ATTACK_TECHNIQUE_RE.match(t) for t in rule.attack), rule.name
        assert rule.mlps, rule.name
        assert all(MLPS_TAG_RE.match(t) for t in rule.mlps), rule.name
        assert rule.falsepositives, rule.name
        assert rule.source is not None
        assert rule.source.path.endswith(".yml")
    kinds = {r.kind for r in ruleset.rules}
    assert {RuleKind.EVENT_COUNT, RuleKind.VALUE_COUNT, RuleKind.TEMPORAL_ORDERED} <= kinds
    helpers = [r for r in ruleset.rules if not r.generate]
    assert helpers
    assert all(r.kind is RuleKind.EVENT for r in helpers)


def test_builtin_pack_lints_clean() -> None:
    assert [str(f) for f in lint() if f.error] == []


def test_pipeline_maps_keycloak_and_generic_names(tmp_path: Path) -> None:
    rule = GOOD.replace(
        "{event.action: a.b}", "{type: LOGIN_ERROR, ipAddress: 10.0.0.1, cs-uri-stem: /x}"
    )
    ruleset = load_rules([write(tmp_path, rule)])
    sigma = next(iter(ruleset.sigma.values()))
    fields = {i.field for i in sigma.detection.detections["s"].detection_items}
    assert fields == {"labels.keycloak_type", "source.ip", "url.path"}


def test_response_actions_are_read(tmp_path: Path) -> None:
    text = (
        GOOD
        + "x-anbao-response:\n  - action: disable_user\n    approval: false\n  - end_sessions\n"
    )
    rule = load_rules([write(tmp_path, text)]).rules[0]
    assert [(a.kind.value, a.approval) for a in rule.responses] == [
        ("disable_user", False),
        ("end_sessions", True),
    ]


def test_lint_reports_file_and_line(tmp_path: Path) -> None:
    bad_tags = (
        GOOD.replace("0a01", "0a02")
        .replace("title: ok", "title: tags")
        .replace(
            "tags: [attack.t1110, mlps.l3-ces1-12]", "tags: [attack.credential-access, mlps.level3]"
        )
    )
    bad_condition = (
        GOOD.replace("0a01", "0a03")
        .replace("title: ok", "title: cond")
        .replace("condition: s", "condition: s and gone")
    )
    path = write(tmp_path, GOOD + "---\n" + bad_tags + "---\n" + bad_condition)
    found = {(f.line, f.code) for f in lint([path])}
    second = GOOD.count("\n") + 2  # first line of the second document
    third = second + GOOD.count("\n") + 1
    assert (second + 8, "attack_tag") in found  # the line of 'tags:'
    assert (second + 8, "mlps_tag_format") in found
    assert (third, "load") in found  # the undefined detection 'gone'
    assert all(line >= second for line, _ in found)  # the first rule is clean
    assert len({c for _, c in found if c.startswith("sigma.")}) == 0


def test_lint_reports_yaml_and_sigma_errors(tmp_path: Path) -> None:
    bad_yaml = write(tmp_path, "title: x\n  broken: [\n", "a.yml")
    bad_mod = write(tmp_path, GOOD.replace("event.action:", "event.action|nosuch:"), "b.yml")
    findings = lint([bad_yaml, bad_mod])
    codes = {(Path(f.path).name, f.code) for f in findings if f.error}
    assert ("a.yml", "yaml") in codes
    assert ("b.yml", "sigma") in codes


def test_strict_load_raises_with_location(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("condition: s", "condition: nope"))
    with pytest.raises(RuleInvalid, match=r"r\.yml:1"):
        load_rules([path])


def test_correlation_with_unsupported_operator_is_reported(tmp_path: Path) -> None:
    corr = """\
---
title: c
id: 5f0e5a2e-1111-4c8e-9a41-2b7c5c1c0a09
correlation:
  type: event_count
  rules: [5f0e5a2e-1111-4c8e-9a41-2b7c5c1c0a01]
  group-by: [user.name]
  timespan: 5m
  condition: {lt: 3}
level: high
falsepositives: [none]
tags: [attack.t1110, mlps.l3-ces1-02]
"""
    findings = lint([write(tmp_path, GOOD + corr)])
    assert any(f.code == "engine" and "lt" in f.message for f in findings)
