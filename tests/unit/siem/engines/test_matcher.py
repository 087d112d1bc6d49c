"""Compiled predicates follow Sigma's matching semantics (modifiers, lists, null, fieldref)."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.collection import SigmaCollection

from siem.engines.matcher import compile_rule, specialize_rule
from siem.engines.pipeline import anbao_pipeline

DOC: dict[str, Any] = {
    "event": {"action": "keycloak.login", "outcome": "failure", "category": ["authentication"]},
    "user": {"name": "Alice", "roles": ["seal-user", "auditor"]},
    "source": {"ip": "10.1.2.3"},
    "http": {"response": {"status_code": 403}},
    "url": {"path": "/audit/export"},
    "resource": {"name": "alice"},
    "labels": {"keycloak_type": "LOGIN_ERROR"},
    "event_reason": "x",
}


def matches(selection: str, doc: dict[str, Any] = DOC, condition: str = "sel") -> bool:
    text = f"""
title: t
logsource: {{product: anbao}}
detection:
  sel:
{selection}
  condition: {condition}
"""
    rule = SigmaCollection.from_yaml(text).rules[0]
    anbao_pipeline().apply(rule)
    return compile_rule(list(rule.detection.parsed_condition))(doc)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("    event.action: KEYCLOAK.login", True),  # case-insensitive by default
        ("    event.action|cased: KEYCLOAK.login", False),
        ("    user.name|startswith: al", True),
        ("    user.name|endswith: ICE", True),
        ("    user.name|contains: lic", True),
        ("    user.name: 'a?ice'", True),
        ("    user.name: bob", False),
        ("    user.roles: auditor", True),  # any element of a list field
        ("    user.roles: [admin, auditor]", True),
        ("    source.ip|cidr: 10.1.0.0/16", True),
        ("    source.ip|cidr: 10.2.0.0/16", False),
        ("    http.response.status_code|gte: 400", True),
        ("    http.response.status_code|lt: 400", False),
        ("    http.response.status_code: 403", True),
        ("    url.path|re: '^/audit/(export|events)$'", True),
        ("    trace.id: null", True),
        ("    user.name: null", False),
        ("    trace.id|exists: true", False),
        ("    user.name|exists: true", True),
        ("    type: LOGIN_ERROR", True),  # Keycloak's own field name, mapped by the pipeline
        ("    ipAddress: 10.1.2.3", True),
        ("    resource.name|fieldref: user.name", False),  # fieldref compares exactly
        ("    user.name|all|contains: [Al, ce]", True),
        ("    user.name|all|contains: [Al, zz]", False),
    ],
)
def test_field_matching(selection: str, expected: bool) -> None:
    assert matches(selection) is expected


def test_fieldref_equal_values() -> None:
    doc = {**DOC, "resource": {"name": "Alice"}}
    assert matches("    resource.name|fieldref: user.name", doc)


def test_conditions_and_keywords() -> None:
    sel = "    event.outcome: failure\n  other:\n    user.name: bob\n  kw:\n    - LOGIN_ERROR"
    assert matches(sel, condition="sel and not other")
    assert not matches(sel, condition="sel and other")
    assert matches(sel, condition="1 of sel or other")
    assert matches(sel, condition="kw")  # field-less keyword: any string leaf


def test_missing_nested_and_flat_keys() -> None:
    assert not matches("    http.request.method: GET")
    flat = {"labels.keycloak_type": "LOGIN_ERROR"}  # a flat dotted key also resolves
    assert matches("    labels.keycloak_type: LOGIN_ERROR", flat)


SPECIALIZED = [
    ("    event.action: KEYCLOAK.login\n    user.name: alice", "sel"),
    ("    event.action|startswith: keycloak.\n    event.outcome: success", "sel"),
    ("    event.category: authentication\n  other:\n    user.roles: auditor", "sel and not other"),
    ("    event.outcome: failure\n  kw:\n    - LOGIN_ERROR", "sel and kw"),
    (
        "    event.action: [keycloak.login, iam.role.grant]\n  other:\n    user.name: bob",
        "sel or other",
    ),
    ("    event.outcome: null\n  other:\n    event.action|exists: false", "sel or other"),
]
VARIANTS: list[dict[str, Any]] = [
    DOC,
    {**DOC, "event": {"action": "Keycloak.Login", "outcome": "success"}},
    {**DOC, "event": {"action": "iam.role.grant", "category": []}},
    {**DOC, "user": {"name": "bob"}},
    {"user": {"name": "alice"}, "labels": {"x": "LOGIN_ERROR"}},
]


@pytest.mark.parametrize(("selection", "condition"), SPECIALIZED)
def test_specialized_rule_agrees_with_the_full_predicate(selection: str, condition: str) -> None:
    """Partial evaluation on the key fields gives the full predicate's answer on every document
    holding the sample's values for them (and only reads the other fields)."""
    text = f"title: t\nlogsource: {{product: anbao}}\ndetection:\n  sel:\n{selection}\n"
    rule = SigmaCollection.from_yaml(text + f"  condition: {condition}\n").rules[0]
    anbao_pipeline().apply(rule)
    conditions = list(rule.detection.parsed_condition)
    full = compile_rule(conditions)
    known = frozenset({"event.action", "event.category", "event.outcome"})
    outcomes = set()
    for doc in VARIANTS:
        event = doc.get("event", {})
        sample = {"event": {k: v for k, v in event.items() if f"event.{k}" in known}}
        folded = specialize_rule(conditions, known, sample)
        got = folded if isinstance(folded, bool) else folded(doc)
        assert got == full(doc)
        outcomes.add(got)
    assert outcomes == {True, False}  # the variants exercise both answers
