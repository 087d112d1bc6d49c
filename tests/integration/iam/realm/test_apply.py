"""Realm as code against the real Keycloak: apply, idempotence, drift, prune, the login rules."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from keycloak.exceptions import KeycloakPostError, KeycloakPutError

from iam.admin import AdminCredentials, KeycloakAdmins
from iam.orgs.errors import ImportInvalid, InvalidOrgInput
from iam.orgs.imports.service import ImportService
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import NodeKind, PersonDraft
from iam.orgs.service import OrgService
from tests.integration.iam.realm_support import (
    CONSOLE,
    PASSWORD,
    REALM_DIR,
    REDIRECT,
    BrowserlessLogin,
    add_public_client,
    add_user,
    admin_for,
    apply_file,
    claims_of,
    totp,
    unique,
)

ANBAO = REALM_DIR / "anbao-realm.yaml"
ROLES = {
    "platform-admin", "org-admin", "security-analyst", "auditor", "compliance-officer",
    "seal-admin", "seal-user", "app-developer",
}  # fmt: skip


@pytest.fixture(scope="module")
def realm(keycloak):
    name = unique("realm")
    first = apply_file(keycloak, ANBAO, name)
    assert first.applied
    assert first.mutations
    admin = admin_for(keycloak)
    add_public_client(admin, name, "portal")
    yield name
    admin.delete_realm(name)


@pytest.fixture
def directory(keycloak, realm):
    """Anbao's org directory adapter on the module's realm."""
    found = KeycloakOrgDirectory(
        KeycloakAdmins(
            AdminCredentials.bootstrap(
                keycloak.url,
                keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
                keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
            ),
            realm,
        ).rest()
    )
    yield found
    found.admin.close()


@pytest.fixture
def admin(keycloak, realm):
    client = admin_for(keycloak)
    client.change_current_realm(realm)
    return client


def test_second_apply_changes_nothing(keycloak, realm):
    again = apply_file(keycloak, ANBAO, realm)
    assert again.changes == ()
    assert again.lines() == [f"realm {realm}: no changes"]


def test_live_realm_has_the_files_settings(admin, realm):
    rep = admin.get_realm(realm)
    assert rep["bruteForceProtected"] is True
    assert rep["ssoSessionIdleTimeout"] == 1800
    assert rep["eventsEnabled"]
    assert rep["adminEventsEnabled"]
    assert rep["adminEventsDetailsEnabled"]
    assert {"LOGIN", "LOGIN_ERROR"} <= set(rep["enabledEventTypes"])
    assert rep["browserFlow"] == "anbao browser"
    policy = rep["passwordPolicy"]
    for term in (
        "length(8)",
        "upperCase(1)",
        "lowerCase(1)",
        "digits(1)",
        "specialChars(1)",
        "notUsername",
        "passwordHistory(5)",
    ):
        assert term in policy
    assert {r["name"] for r in admin.get_realm_roles()} >= ROLES
    composites = {r["name"] for r in admin.get_composite_realm_roles_of_role("org-admin")}
    assert composites == {"otp-required"}
    defaults = {s["name"] for s in admin.get_default_default_client_scopes()}
    assert "org-path" in defaults
    # Anbao's audience is not for every new client: only its own clients hold the scope.
    optional = {s["name"] for s in admin.get_default_optional_client_scopes()}
    assert "anbao-api" not in defaults | optional
    console = admin.get_client(admin.get_client_id(CONSOLE))
    assert "anbao-api" in console["defaultClientScopes"]
    assert "anbao-api" not in admin.get_client(admin.get_client_id("portal"))["defaultClientScopes"]
    api = admin.get_client(admin.get_client_id("anbao-api"))
    assert not api["publicClient"]
    assert api["clientAuthenticatorType"] == "client-secret"


def test_weak_passwords_are_refused_by_keycloak(admin):
    with pytest.raises(KeycloakPostError):
        admin.create_user(
            {"username": unique("weak"), "enabled": True,
             "credentials": [{"type": "password", "value": "password1", "temporary": False}]}
        )  # fmt: skip


def test_drift_is_shown_by_dry_run_and_repaired_by_apply(keycloak, admin, realm):
    admin.update_realm(realm, {"ssoSessionIdleTimeout": 7200, "bruteForceProtected": False})
    admin.update_realm_role("auditor", {"name": "auditor", "description": "changed by hand"})
    dry = apply_file(keycloak, ANBAO, realm, dry_run=True)
    fields = {(c.kind, f.field): (f.before, f.after) for c in dry.changes for f in c.fields}
    assert fields[("realm", "ssoSessionIdleTimeout")] == (7200, 1800)
    assert fields[("realm", "bruteForceProtected")] == (False, True)
    assert fields[("role", "description")][1] == "Reads the audit trail and compliance reports"
    assert admin.get_realm(realm)["ssoSessionIdleTimeout"] == 7200  # dry run changed nothing
    apply_file(keycloak, ANBAO, realm)
    assert admin.get_realm(realm)["ssoSessionIdleTimeout"] == 1800
    assert apply_file(keycloak, ANBAO, realm).changes == ()


def test_flow_drift_is_rebuilt(keycloak, admin, realm):
    steps = admin.get_authentication_flow_executions("anbao admin otp")
    otp = next(s for s in steps if s.get("providerId") == "auth-otp-form")
    otp["requirement"] = "DISABLED"
    admin.update_authentication_flow_executions(otp, "anbao admin otp")
    (change,) = apply_file(keycloak, ANBAO, realm, dry_run=True).changes
    assert (change.op, change.kind, change.name) == ("update", "flow", "anbao browser")
    apply_file(keycloak, ANBAO, realm)
    assert apply_file(keycloak, ANBAO, realm).changes == ()


def test_extras_are_kept_unless_pruned_and_apps_never_pruned(keycloak, admin, realm):
    admin.create_realm_role({"name": "stray-role"})
    admin.create_client_scope({"name": "stray-scope", "protocol": "openid-connect"})
    kept = apply_file(keycloak, ANBAO, realm)
    assert {(c.op, c.name) for c in kept.changes} == {
        ("extra", "stray-role"),
        ("extra", "stray-scope"),
    }
    assert admin.get_realm_role("stray-role")["name"] == "stray-role"
    pruned = apply_file(keycloak, ANBAO, realm, prune=True)
    assert {(c.op, c.name) for c in pruned.changes} == {
        ("delete", "stray-role"),
        ("delete", "stray-scope"),
    }
    names = {r["name"] for r in admin.get_realm_roles()}
    assert "stray-role" not in names
    assert "offline_access" in names
    assert admin.get_client_id("portal")  # onboarded apps are not the file's to delete
    assert "profile" in {s["name"] for s in admin.get_client_scopes()}


def test_token_carries_audience_org_path_and_acr_1(keycloak, admin, realm):
    name = unique("clerk")
    user_id = add_user(
        admin, realm, name, roles=("seal-user",), attributes={"org_path": "/53/5301/530102"}
    )
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:
        page = login.start()
        login.submit(page, "kc-form-login", username=name, password=PASSWORD)
        claims = claims_of(keycloak, realm, login.tokens()["access_token"])
    finally:
        login.close()
    assert claims["sub"] == user_id
    assert "anbao-api" in claims["aud"]
    assert claims["org_path"] == "/53/5301/530102"
    assert claims["acr"] == "1"
    up = {a["name"]: a for a in admin.get_realm_users_profile()["attributes"]}
    assert up["org_path"]["permissions"]["edit"] == ["admin"]  # users cannot move themselves


def test_admin_roles_must_enrol_and_use_otp(keycloak, admin, realm):
    name = unique("orgadmin")
    add_user(admin, realm, name, roles=("org-admin",))
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:
        page = login.submit(login.start(), "kc-form-login", username=name, password=PASSWORD)
        assert login.code is None, "an administrator got a code without OTP"
        _action, fields = page.form()
        secret = fields["totpSecret"]
        login.submit(page, None, totp=totp(secret), userLabel="phone")
        assert login.code, "OTP enrolment did not finish the login"
        claims = claims_of(keycloak, realm, login.tokens()["access_token"])
        assert "org-admin" in claims["realm_access"]["roles"]
    finally:
        login.close()
    second = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:
        page = second.submit(second.start(), "kc-form-login", username=name, password=PASSWORD)
        assert second.code is None
        assert 'name="otp"' in page.text
        second.submit(page, None, otp=totp(secret, at=time.time() + 30))
        assert second.code
    finally:
        second.close()


def test_step_up_to_acr_2_asks_for_otp(keycloak, admin, realm):
    name = unique("sealer")
    add_user(admin, realm, name, roles=("seal-user",))
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:
        page = login.submit(
            login.start(acr_values="2"), "kc-form-login", username=name, password=PASSWORD
        )
        assert login.code is None
        _, fields = page.form()
        login.submit(page, None, totp=totp(fields["totpSecret"]), userLabel="phone")
        claims = claims_of(keycloak, realm, login.tokens()["access_token"])
    finally:
        login.close()
    assert claims["acr"] == "2"


def test_cli_apply_dry_run_and_bad_file(keycloak, realm, tmp_path):
    env = {
        **os.environ,
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        # The introspection client's secret comes from the setting, never the command line.
        "ANBAO_KEYCLOAK_CLIENT_SECRET": keycloak.env["ANBAO_KEYCLOAK_CLIENT_SECRET"],
    }
    cli = [sys.executable, "-m", "anbao", "iam", "apply"]
    ok = subprocess.run(
        [
            *cli,
            str(ANBAO),
            "--realm",
            realm,
            "--dry-run",
            "--set",
            f"console_redirect_uri={REDIRECT}",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"realm {realm}: no changes"
    bad = tmp_path / "weak.yaml"
    bad.write_text("realm: x\npassword_policy:\n  length: 6\n")
    failed = subprocess.run([*cli, str(bad)], capture_output=True, text=True, env=env, check=False)
    assert failed.returncode == 2
    assert "line 3, password_policy.length: must be at least 8" in failed.stderr
    assert keycloak.env["KEYCLOAK_ADMIN_PASSWORD"] not in failed.stderr + ok.stdout
    changed = subprocess.run(
        [
            *cli,
            str(ANBAO),
            "--realm",
            realm,
            "--dry-run",
            "--set",
            f"console_redirect_uri={REDIRECT}",
        ],
        capture_output=True,
        text=True,
        env={**env, "ANBAO_KEYCLOAK_CLIENT_SECRET": "a-rotated-secret"},
        check=False,
    )
    assert "~ client anbao-api" in changed.stdout
    assert 'secret: "**********" -> "**********"' in changed.stdout  # the plan never shows it
    assert "a-rotated-secret" not in changed.stdout + changed.stderr
    assert keycloak.env["ANBAO_KEYCLOAK_CLIENT_SECRET"] not in changed.stdout + changed.stderr


def test_password_history_and_brute_force_lockout_are_live(keycloak, admin, realm):
    name = unique("guard")
    user_id = add_user(admin, realm, name)
    with pytest.raises(KeycloakPutError):  # passwordHistory(5): the current password is refused
        admin.set_user_password(user_id, PASSWORD, temporary=False)
    for _ in range(5):  # failureFactor 5
        login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
        try:
            login.submit(login.start(), "kc-form-login", username=name, password="Wrong-Pass-1!")
        finally:
            login.close()
    status = admin.connection.raw_get(
        f"admin/realms/{realm}/attack-detection/brute-force/users/{user_id}"
    ).json()
    assert status["disabled"] is True
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:
        login.submit(login.start(), "kc-form-login", username=name, password=PASSWORD)
        assert login.code is None  # the right password does not help while locked
    finally:
        login.close()


def test_an_admin_grant_asks_for_otp_only_when_there_is_none(keycloak, admin, realm, directory):
    """Issue 16 §5, through Anbao's Keycloak adapter: CONFIGURE_TOTP unless OTP is set up."""
    enrolled, bare = unique("enrolled"), unique("bare")
    enrolled_id = add_user(admin, realm, enrolled, roles=("seal-user",))
    bare_id = add_user(admin, realm, bare)
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:  # step-up to acr 2 makes the seal user set up OTP
        page = login.submit(
            login.start(acr_values="2"), "kc-form-login", username=enrolled, password=PASSWORD
        )
        login.submit(page, None, totp=totp(page.form()[1]["totpSecret"]), userLabel="phone")
        assert login.code
    finally:
        login.close()
    for user_id, role in ((enrolled_id, "seal-admin"), (bare_id, "org-admin")):
        person = directory.get_person(user_id)
        assert person is not None
        directory.grant_role(person, role)
    assert admin.get_user(enrolled_id).get("requiredActions", []) == []
    assert admin.get_user(bare_id)["requiredActions"] == ["CONFIGURE_TOTP"]


def test_brokers_username_prefix_is_reserved_on_the_live_realm(directory):
    """Issue 16 §3: the prefixes come from the realm's identity providers (the file's court
    broker names its users ``court.<x>``); create and import refuse them."""
    assert directory.reserved_username_prefixes() == {"court."}
    service = OrgService(directory, operator=True)
    node = directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    with pytest.raises(InvalidOrgInput) as caught:
        service.create_person("operator", PersonDraft("court.judge", "法", "官"), [node.id])
    assert caught.value.field == "username"
    row = {"username": "court.judge", "family_name": "法", "given_name": "官",
           "email": "", "org_codes": "530000"}  # fmt: skip
    with pytest.raises(ImportInvalid):
        ImportService(service).people("operator", [row], dry_run=False)
    assert directory.find_person("court.judge") is None
    assert service.create_person("operator", PersonDraft("courtney", "张", "三"), [node.id])
