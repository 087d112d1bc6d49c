"""Identity brokering as code: a court user signs in to a provincial app through the broker."""

from __future__ import annotations

import pytest

from tests.integration.iam.realm_support import (
    CONSOLE,
    PASSWORD,
    REALM_DIR,
    BrowserlessLogin,
    add_public_client,
    add_user,
    admin_for,
    apply_file,
    claims_of,
    totp,
    unique,
)


@pytest.fixture(scope="module")
def realms(keycloak):
    court, anbao = unique("court"), unique("anbao")
    apply_file(keycloak, REALM_DIR / "court-realm.yaml", court, anbao_realm=anbao)
    apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", anbao, court_realm=court)
    admin = admin_for(keycloak)
    add_public_client(admin, anbao, "portal")
    yield court, anbao
    for realm in (anbao, court):
        admin.delete_realm(realm)


def broker_login(keycloak, realm, username, password=PASSWORD):
    """Open the app's login page, pick the court, sign in there, come back with a code."""
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    page = login.start()
    page = login.go("GET", page.link("/broker/court/login"))
    assert "/realms/court-" in page.url, "the broker did not send us to the court's login page"
    page = login.submit(page, "kc-form-login", username=username, password=password)
    return login, page


def test_court_user_signs_in_to_an_anbao_app_through_the_broker(keycloak, realms):
    court, anbao = realms
    admin = admin_for(keycloak)
    judge = unique("judge")
    court_id = add_user(admin, court, judge)
    login, _ = broker_login(keycloak, anbao, judge)
    try:
        claims = claims_of(keycloak, anbao, login.tokens()["access_token"])
    finally:
        login.close()
    assert claims["iss"] == f"{keycloak.url}/realms/{anbao}"
    assert "anbao-api" in claims["aud"]
    assert claims["preferred_username"] == f"court.{judge}"
    admin.change_current_realm(anbao)
    (link,) = admin.get_user_social_logins(claims["sub"])
    assert (link["identityProvider"], link["userId"]) == ("court", court_id)
    user = admin.get_user(claims["sub"])
    assert user["attributes"]["home_institution"] == ["court"]
    assert not admin.get_credentials(claims["sub"]), "a brokered user must have no local password"

    again, _ = broker_login(keycloak, anbao, judge)
    try:
        assert claims_of(keycloak, anbao, again.tokens()["access_token"])["sub"] == claims["sub"]
    finally:
        again.close()


def test_a_wrong_court_password_gets_no_anbao_code(keycloak, realms):
    court, anbao = realms
    admin = admin_for(keycloak)
    clerk = unique("clerk")
    add_user(admin, court, clerk)
    login, page = broker_login(keycloak, anbao, clerk, password="Wrong-Pass-1!")
    try:
        assert login.code is None
        assert "/realms/court-" in page.url
        assert 'id="kc-form-login"' in page.text
    finally:
        login.close()
    admin.change_current_realm(anbao)
    assert admin.get_users({"username": f"court.{clerk}", "exact": True}) == []


def test_the_anbao_realm_rejects_the_court_password_directly(keycloak, realms):
    court, anbao = realms
    admin = admin_for(keycloak)
    judge = unique("judge")
    add_user(admin, court, judge)
    login = BrowserlessLogin(keycloak.url, anbao, CONSOLE)
    try:
        login.submit(login.start(), "kc-form-login", username=judge, password=PASSWORD)
        assert login.code is None
    finally:
        login.close()


def test_brokered_administrators_still_need_otp(keycloak, realms):
    court, anbao = realms
    admin = admin_for(keycloak)
    judge = unique("judge")
    add_user(admin, court, judge)
    first, _ = broker_login(keycloak, anbao, judge)
    try:
        sub = claims_of(keycloak, anbao, first.tokens()["access_token"])["sub"]
    finally:
        first.close()
    admin.change_current_realm(anbao)
    flows = admin.get_idp("court")
    assert flows["firstBrokerLoginFlowAlias"] == "anbao first broker login"
    admin.assign_realm_roles(sub, [admin.get_realm_role("org-admin")])

    second, page = broker_login(keycloak, anbao, judge)
    try:
        assert second.code is None, "a brokered org-admin got a code without OTP"
        _, fields = page.form()
        second.submit(page, None, totp=totp(fields["totpSecret"]), userLabel="phone")
        assert second.code
        claims = claims_of(keycloak, anbao, second.tokens()["access_token"])
    finally:
        second.close()
    assert claims["sub"] == sub
    assert "org-admin" in claims["realm_access"]["roles"]
