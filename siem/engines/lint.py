"""``anbao siem lint``: pySigma's validators plus Anbao's own checks, as findings with file:line.

pySigma's validators (``sigma.validators.core``: dangling detections, duplicate ids and titles,
ATT&CK tag validity, wildcard misuse …) run on every rule. Three of them do not fit a rule pack
that keeps several rules per file and adds its own tag namespace, and are replaced:
``namespace_tag`` (it does not know ``mlps``), ``duplicate_filename`` and ``filename_length``.

Anbao's checks, for every rule that raises detections (plain rules not only feeding a
correlation, and every correlation): a ``level``; at least one ATT&CK technique tag
(``attack.tNNNN[.NNN]``); at least one MLPS 2.0 test-item tag matching ``mlps.lN-xxxN-NN`` (GB/T
28448-2019 numbering, e.g. ``mlps.l3-ces1-12``); a ``falsepositives`` note; an ``id``. Every
``mlps.*`` tag must have that form. Correlations must be evaluable by the streaming engine
(type and condition operator), and the custom fields ``x-anbao-*`` must be well-formed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from sigma.correlations import SigmaCorrelationRule
from sigma.data import mitre_attack
from sigma.exceptions import SigmaError
from sigma.plugins import InstalledSigmaPlugins
from sigma.validation import SigmaValidator
from sigma.validators.base import SigmaValidationIssueSeverity

from siem.engines.core import DetectionCore, Hours, NewTerms
from siem.engines.loader import BUILTIN_RULES, RuleSet, load_rules, rule_id
from siem.errors import SiemError
from siem.model import ATTACK_TECHNIQUE_RE, MLPS_TAG_RE, Engine, Finding, Rule, RuleKind

_REPLACED: Final = frozenset({"namespace_tag", "duplicate_filename", "filename_length"})
#: These download the MITRE ATT&CK / D3FEND catalogues at run time: only with ``attack_data``.
_NEEDS_CATALOGUE: Final = frozenset({"attacktag", "d3_fendtag"})
_ERRORS: Final = frozenset({SigmaValidationIssueSeverity.HIGH, SigmaValidationIssueSeverity.MEDIUM})
_KNOWN_CUSTOM: Final = frozenset(
    {"x-anbao-response", "x-anbao-entity", "x-anbao-outside-hours", "x-anbao-new-terms"}
)


def _at(rule: Rule, key: str, ruleset: RuleSet) -> tuple[str, int]:
    source = rule.source
    path = source.path if source else "<rules>"
    line = ruleset.key_lines.get(rule.id, {}).get(key) or (source.line if source else 1)
    return path, line


def _validators(ruleset: RuleSet, attack_data: Path | None) -> list[Finding]:
    available = InstalledSigmaPlugins.autodiscover().validators
    skip = _REPLACED if attack_data is not None else _REPLACED | _NEEDS_CATALOGUE
    if attack_data is not None:
        mitre_attack.set_url(str(attack_data))
    chosen: list[Any] = [v for name, v in available.items() if name not in skip]
    validator = SigmaValidator(chosen)
    issues = []
    for sigma in ruleset.collection.rules:
        if sigma.errors or rule_id(sigma) not in ruleset.sigma:
            continue  # already reported by the loader with its own finding
        try:
            issues += validator.validate_rule(sigma)  # type: ignore[arg-type]
        except (SigmaError, AttributeError, TypeError) as exc:
            issues_error = Finding("<rules>", 1, "sigma.validator", str(exc))
            return [issues_error]
    issues += validator.finalize()
    out = []
    for issue in issues:
        for sigma in issue.rules:
            rule = ruleset.rules_by_id().get(rule_id(sigma))
            path, line = _at(rule, "detection", ruleset) if rule else ("<rules>", 1)
            name = type(issue).__name__.removesuffix("Issue")
            out.append(
                Finding(path, line, f"sigma.{name}", issue.description, issue.severity in _ERRORS)
            )
    return out


def _tags(rule: Rule, ruleset: RuleSet) -> list[Finding]:
    path, line = _at(rule, "tags", ruleset)
    out = [
        Finding(path, line, "mlps_tag_format", f"'{t}' is not of the form mlps.l3-ces1-12")
        for t in rule.mlps
        if not MLPS_TAG_RE.match(t)
    ]
    if not rule.generate:
        return out
    if not any(ATTACK_TECHNIQUE_RE.match(t) for t in rule.attack):
        out.append(
            Finding(path, line, "attack_tag", "needs an ATT&CK technique tag (attack.t1110)")
        )
    if not any(MLPS_TAG_RE.match(t) for t in rule.mlps):
        out.append(
            Finding(path, line, "mlps_tag", "needs an MLPS 2.0 test item tag (mlps.l3-ces1-12)")
        )
    return out


def _metadata(rule: Rule, ruleset: RuleSet) -> list[Finding]:
    out = []
    sigma = ruleset.sigma[rule.id]
    if rule.generate:
        if sigma.level is None:
            path, line = _at(rule, "title", ruleset)
            out.append(Finding(path, line, "level", "needs a level (severity)"))
        if not rule.falsepositives:
            path, line = _at(rule, "title", ruleset)
            out.append(Finding(path, line, "falsepositives", "needs a falsepositives note"))
    if sigma.id is None:
        path, line = _at(rule, "title", ruleset)
        out.append(Finding(path, line, "id", "needs an id (UUID)"))
    for key, value in sigma.custom_attributes.items():
        path, line = _at(rule, key, ruleset)
        if key.startswith("x-anbao-") and key not in _KNOWN_CUSTOM:
            out.append(Finding(path, line, "custom_field", f"unknown Anbao field {key}"))
        try:
            if key == "x-anbao-outside-hours":
                Hours.parse(value)
            elif key == "x-anbao-new-terms":
                NewTerms(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            out.append(Finding(path, line, "custom_field", f"{key} is malformed ({exc})"))
    return out


def _engines(ruleset: RuleSet) -> list[Finding]:
    """Can both engines evaluate every rule? (Streaming builds the same state machines.)"""
    for rule in ruleset.rules:
        if rule.kind not in (RuleKind.EVENT, *_CORRELATIONS):
            path, line = _at(rule, "correlation", ruleset)
            return [Finding(path, line, "correlation_type", f"{rule.kind} is not supported")]
    try:
        DetectionCore(ruleset, Engine.STREAMING, clock=lambda: None)  # type: ignore[arg-type,return-value]
    except (SiemError, SigmaError, ValueError) as exc:
        return [Finding("<rules>", 1, "engine", str(exc))]
    return []


_CORRELATIONS: Final = (
    RuleKind.EVENT_COUNT,
    RuleKind.VALUE_COUNT,
    RuleKind.TEMPORAL,
    RuleKind.TEMPORAL_ORDERED,
)


def lint(
    paths: Sequence[Path] = (BUILTIN_RULES,), *, attack_data: Path | None = None
) -> list[Finding]:
    """Every finding for the rules under ``paths``, sorted by file and line.

    ``attack_data``: a local MITRE ATT&CK enterprise STIX file; with it pySigma's ``attacktag``
    validator checks that each technique exists (without it, only the tag form is checked: the
    validator would download the catalogue, and Anbao's hosts have no Internet access).
    """
    ruleset = load_rules(paths, strict=False)
    findings = list(ruleset.findings)
    findings += _validators(ruleset, attack_data)
    for rule in ruleset.rules:
        findings += _tags(rule, ruleset) + _metadata(rule, ruleset)
        sigma = ruleset.sigma[rule.id]
        if isinstance(sigma, SigmaCorrelationRule) and not sigma.rules:
            path, line = _at(rule, "correlation", ruleset)
            findings.append(Finding(path, line, "correlation_rules", "names no rules"))
    if not any(f.error for f in findings):
        findings += _engines(ruleset)
    return sorted(set(findings), key=lambda f: (f.path, f.line, f.code))


__all__ = ["lint"]
