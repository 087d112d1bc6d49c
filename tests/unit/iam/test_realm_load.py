"""Realm files load into typed specs; every problem is reported with its YAML path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iam.realm_errors import RealmFileInvalid
from iam.realm_load import load_realm_file, load_realm_text
from iam.realm_render import password_policy_string, render

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "keycloak"

MINIMAL = """\
realm: demo
password_policy: {length: 10}
"""


def findings(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(RealmFileInvalid) as caught:
        load_realm_text(text)
    return [(f.path, f.line, f.message) for f in caught.value.findings]


def test_the_shipped_realm_files_load_and_meet_the_baseline():
    spec = load_realm_file(DEPLOY / "anbao-realm.yaml")
    assert spec.realm == "anbao"
    roles = {r.name for r in spec.roles}
    assert {
        "platform-admin", "org-admin", "security-analyst", "auditor", "compliance-officer",
        "seal-admin", "seal-user", "app-developer",
    } <= roles  # fmt: skip
    assert spec.sessions.sso_idle_timeout_seconds <= 1800
    assert spec.brute_force.enabled
    assert spec.events.admin_events_details
    assert {"LOGIN", "LOGIN_ERROR"} <= set(spec.events.types)
    idp = spec.identity_providers[0]
    assert idp.config["issuer"] == "http://127.0.0.1:8080/realms/court"
    court = load_realm_file(DEPLOY / "court-realm.yaml", {"anbao_realm": "x"})
    assert court.clients[0].redirect_uris == (
        "http://127.0.0.1:8080/realms/x/broker/court/endpoint",
    )


def test_variables_are_overridden_and_unknown_ones_are_findings():
    spec = load_realm_file(DEPLOY / "anbao-realm.yaml", {"keycloak_url": "https://id.gov.test"})
    assert (
        spec.identity_providers[0].config["jwksUrl"].startswith("https://id.gov.test/realms/court/")
    )
    text = MINIMAL + "display_name: ${nope}\n"
    assert findings(text) == [("display_name", 3, "unknown variable ${nope}")]


def test_password_policy_renders_in_keycloak_syntax():
    spec = load_realm_text(MINIMAL)
    assert password_policy_string(spec) == (
        "digits(1) and length(10) and lowerCase(1) and notUsername() and passwordHistory(5)"
        " and specialChars(1) and upperCase(1)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "realm: d\npassword_policy:\n  length: 6\n",
            ("password_policy.length", 3, "must be at least 8"),
        ),
        (
            "realm: d\npassword_policy:\n  digits: 0\n",
            ("password_policy.digits", 3, "must be at least 1"),
        ),
        (
            "realm: d\nsessions:\n  sso_idle_timeout_seconds: 3600\n",
            ("sessions.sso_idle_timeout_seconds", 3, "must be at most 1800 (30 minutes)"),
        ),
        (
            "realm: d\nbrute_force: {enabled: false}\n",
            ("brute_force.enabled", 2, "brute-force detection must stay on"),
        ),
        (
            "realm: d\nevents:\n  admin_events_details: false\n",
            ("events.admin_events_details", 3, "must stay on"),
        ),
        ("realm: d\nsesions: {}\n", ("sesions", 2, "unknown key")),
        (
            "realm: d\ntokens:\n  access_token_lifespan_seconds: soon\n",
            ("tokens.access_token_lifespan_seconds", 3, "must be an integer"),
        ),
        (
            "realm: d\nlogin:\n  ssl_required: sometimes\n",
            ("login.ssl_required", 3, "must be one of all, external, none"),
        ),
        ("display_name: x\n", ("realm", 1, "is required")),
    ],
)
def test_bad_files_name_the_yaml_path(text, expected):
    assert expected in findings(text)


def test_flow_steps_need_exactly_one_kind_and_named_configs():
    text = """\
realm: d
flows:
  - alias: f
    executions:
      - requirement: REQUIRED
      - authenticator: auth-otp-form
        subflow: x
      - authenticator: conditional-user-role
        config: {condUserRole: a}
"""
    got = findings(text)
    assert ("flows[0].executions[0]", 5, "needs exactly one of 'authenticator' or 'subflow'") in got
    assert ("flows[0].executions[1]", 6, "needs exactly one of 'authenticator' or 'subflow'") in got
    assert ("flows[0].executions[2].config", 9, "a step with config needs a config_alias") in got


def test_all_findings_are_reported_at_once():
    got = findings(
        "realm: d\npassword_policy: {length: 4}\nsessions: {sso_idle_timeout_seconds: 7200}\nbogus: 1\n"
    )
    assert {path for path, _, _ in got} == {
        "password_policy.length",
        "sessions.sso_idle_timeout_seconds",
        "bogus",
    }


def test_not_yaml_is_a_finding_with_a_line():
    assert findings("realm: [unclosed\n")[0][2] == "not valid YAML"


def test_render_orders_kinds_and_marks_managed_clients():
    spec = load_realm_file(DEPLOY / "court-realm.yaml")
    state = render(spec)
    assert list(state) == [
        "role",
        "client_scope",
        "flow",
        "client",
        "realm",
        "user_profile",
        "identity_provider",
    ]
    assert state["client"]["anbao-broker"]["attributes"]["anbao.managed-by"] == "realm-file"
    assert state["realm"]["court"]["ssoSessionIdleTimeout"] == 1800
