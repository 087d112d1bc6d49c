"""Realm files load into typed specs; every problem is reported with its YAML path and line."""

from __future__ import annotations

import pytest

from iam.realm.errors import RealmFileInvalid
from iam.realm.load import load_realm_file, load_realm_text
from iam.realm.model import IdentityProvider, Mapper
from iam.realm.plan import plan
from iam.realm.render import password_policy_string, render, render_apps
from tests.paths import ROOT

DEPLOY = ROOT / "deploy" / "keycloak"

MINIMAL = """\
realm: demo
password_policy: {length: 10}
"""


def findings(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(RealmFileInvalid) as caught:
        load_realm_text(text)
    return [(f.path, f.line, f.message) for f in caught.value.findings]


SECRET = {"anbao_api_client_secret": "s3cret"}


def test_the_shipped_realm_files_load_and_meet_the_baseline():
    spec = load_realm_file(DEPLOY / "anbao-realm.yaml", SECRET)
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
    spec = load_realm_file(
        DEPLOY / "anbao-realm.yaml", {"keycloak_url": "https://id.gov.test", **SECRET}
    )
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
        "app",
    ]
    assert state["client"]["anbao-broker"]["attributes"]["anbao.managed-by"] == "realm-file"
    assert state["realm"]["court"]["ssoSessionIdleTimeout"] == 1800


def test_only_anbaos_own_clients_get_its_audience():
    """Issue 16 §2.2: anbao-api is no realm default; the file's own clients hold it, apps not."""
    spec = load_realm_file(DEPLOY / "anbao-realm.yaml", SECRET)
    scope = next(s for s in spec.client_scopes if s.name == "anbao-api")
    assert scope.realm_default == "none"
    clients = {c.client_id: c for c in spec.clients}
    assert "anbao-api" in clients["anbao-console"].default_scopes
    assert clients["anbao-api"].secret == "s3cret"
    assert clients["anbao-api"].authenticator == "client-secret"
    assert spec.app_policy is not None
    assert spec.app_policy.withheld_scopes == ("anbao-api",)
    assert spec.app_policy.full_scope_allowed is False
    assert "s3cret" not in repr(clients["anbao-api"])


def test_the_introspection_secret_is_never_in_the_file():
    with pytest.raises(RealmFileInvalid) as caught:
        load_realm_file(DEPLOY / "anbao-realm.yaml")
    assert [f.path for f in caught.value.findings] == ["clients[0].secret"]


def test_a_withheld_scope_cannot_be_a_realm_default():
    text = MINIMAL + (
        "client_scopes:\n  - {name: anbao-api, realm_default: optional}\n"
        "onboarded_apps: {withheld_scopes: [anbao-api]}\n"
    )
    (finding,) = findings(text)
    assert finding[0] == "onboarded_apps.withheld_scopes"


def test_brokers_username_prefix_comes_from_their_mapper():
    spec = load_realm_file(DEPLOY / "anbao-realm.yaml", SECRET)
    assert [i.username_prefix for i in spec.identity_providers] == ["court."]
    other = IdentityProvider(
        "Gov",
        mappers=(Mapper("u", "oidc-username-idp-mapper", {"template": "${ALIAS}_${CLAIM.sub}"}),),
    )
    assert other.username_prefix == "gov_"
    assert IdentityProvider("plain").username_prefix == ""


def test_apps_the_file_does_not_declare_converge_to_the_policy():
    spec = load_realm_file(DEPLOY / "anbao-realm.yaml", SECRET)
    live = {
        "app": {
            "tax": {"clientScopes": ["anbao-api", "profile"], "fullScopeAllowed": True},
            "portal": {"clientScopes": ["anbao-api", "roles"]},  # not onboarded by Anbao
            "clean": {"clientScopes": ["profile"], "fullScopeAllowed": False},
        }
    }
    desired = render_apps(spec, live)
    assert desired == {
        "tax": {"clientScopes": ["profile"], "fullScopeAllowed": False},
        "portal": {"clientScopes": ["roles"]},
        "clean": {"clientScopes": ["profile"], "fullScopeAllowed": False},
    }
    changes = {c.name: c for c in plan({"app": desired}, live, prune=False)}
    assert set(changes) == {"tax", "portal"}
    assert changes["tax"].lines()[1:] == [
        '    clientScopes: ["anbao-api", "profile"] -> ["profile"]',
        "    fullScopeAllowed: true -> false",
    ]


def test_the_realm_speaks_chinese_first_and_keeps_invitations_admin_only():
    spec = load_realm_file(DEPLOY / "anbao-realm.yaml", SECRET)
    realm = render(spec)["realm"]["anbao"]
    assert realm["internationalizationEnabled"] is True
    assert realm["supportedLocales"] == ["en", "zh-CN"]
    assert realm["defaultLocale"] == "zh-CN"
    (invitation,) = [a for a in spec.user_profile.attributes if a.name == "anbao_invitation"]
    assert invitation.view == ("admin",)
    assert invitation.edit == ("admin",)
    assert "supportedLocales" not in render(load_realm_text(MINIMAL))["realm"]["demo"]
    assert findings(MINIMAL + "localization: {locales: [en], default_locale: zh-CN}\n") == [
        ("localization.default_locale", 3, "must be one of locales")
    ]


def test_anbaos_admin_client_is_a_service_account_with_exactly_the_roles_it_calls():
    from iam.admin import SERVICE_ACCOUNT_ROLES

    spec = load_realm_file(DEPLOY / "anbao-realm.yaml", SECRET)
    admin = next(c for c in spec.clients if c.client_id == "anbao-admin")
    assert admin.service_accounts
    assert not admin.public
    assert not admin.direct_access_grants
    assert dict(admin.service_account_roles) == {"realm-management": SERVICE_ACCOUNT_ROLES}
    assert admin.secret == ""  # no secret in the file: the setting's, or Keycloak's own
    rendered = render(spec)["client"]["anbao-admin"]
    assert rendered["serviceAccountRoles"] == {"realm-management": sorted(SERVICE_ACCOUNT_ROLES)}
    assert "secret" not in rendered


def test_service_account_roles_need_a_confidential_client_with_a_service_account():
    text = MINIMAL + (
        "clients:\n  - client_id: web\n    public: true\n"
        "    service_account_roles: {realm-management: [view-users]}\n"
    )
    assert findings(text) == [
        (
            "clients[0].service_account_roles",
            6,
            "needs service_accounts: true on a confidential client",
        )
    ]
