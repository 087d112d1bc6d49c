"""Every Keycloak-produced rule of the pack, raised by its real producer through the real pipeline.

The producer is Keycloak itself: its login form (wrong and right passwords, from distinct
loopback source addresses), its token endpoint (a refresh token used twice) and its admin API
(realm, flow and credential changes). Nothing is written into the audit trail by the test: a
real ``anbao serve`` pulls the realm's events (keycloak.events_pull), enriches them from the
directory, records them into its spool, ships them into the audit store and runs the streaming
detections; the test reads the alerts through the API as a province-wide analyst and checks
each rule raised exactly one alert (one detection) on the entity the attack was about.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from keycloak import KeycloakAdmin

from iam.admin import AdminCredentials, KeycloakAdmins
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import NodeKind, OrgNode, PersonDraft
from siem.engines.loader import BUILTIN_RULES, load_rules
from tests.integration.anbao.serving import serve, state_env
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    PASSWORD,
    REALM_DIR,
    BrowserlessLogin,
    admin_for,
    apply_file,
    totp,
    unique,
)

WRONG = "Wrong-Pass-1!"
RULES = {rule.name: rule.id for rule in load_rules((BUILTIN_RULES,)).rules if rule.name}
#: Seconds to wait for an alert (pull interval 1 s; the whole path takes a few seconds).
DEADLINE = 90


@dataclasses.dataclass
class Live:
    keycloak: Server
    realm: str
    base: str
    admin: KeycloakAdmin
    directory: KeycloakOrgDirectory
    nodes: dict[str, OrgNode]
    analyst: str = ""
    sessions: dict[str, str] = dataclasses.field(default_factory=dict)
    _sources: int = 1

    def source(self) -> str:
        """A loopback address no other test signs in from (Keycloak records it as the source)."""
        self._sources += 1
        return f"127.0.0.{self._sources}"

    def person(self, node: str, *roles: str) -> dict[str, str]:
        username = unique("p")
        draft = PersonDraft(username, "测", "试", f"{username}@example.test")
        person = self.directory.create_person(draft, [self.nodes[node]])
        for role in roles:
            self.directory.grant_role(person, role)
        self.admin.set_user_password(person.id, PASSWORD, temporary=False)
        return {"id": person.id, "username": username}

    def reader(self, node: str, *roles: str) -> str:
        """A person who reads through the API, bound to ``node`` (signed in once; the refresh
        token is kept, so polling signs nobody in again)."""
        made = self.person(node, *roles)
        person = self.directory.get_person(made["id"])
        assert person is not None
        self.directory.set_admin_node(person, self.nodes[node])
        self.sessions[made["username"]] = sign_in(self, made["username"], PASSWORD)["refresh_token"]
        return made["username"]

    def token(self, reader: str) -> str:
        url = f"{self.keycloak.url}/realms/{self.realm}/protocol/openid-connect/token"
        data = {"grant_type": "refresh_token", "client_id": CONSOLE}
        answer = httpx.post(url, data=data | {"refresh_token": self.sessions[reader]}, timeout=30)
        assert answer.status_code == 200, answer.text
        self.sessions[reader] = answer.json()["refresh_token"]
        return str(answer.json()["access_token"])

    def get(self, path: str, params: dict[str, str], reader: str = "") -> httpx.Response:
        token = self.token(reader or self.analyst)
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.get(self.base + path, params=params, headers=headers, timeout=30)

    def alerts(self, rule: str, entity: str = "", reader: str = "") -> list[dict[str, Any]]:
        params = {"rule": RULES[rule]} | ({"entity": entity} if entity else {})
        found = self.get("/siem/alerts", params, reader)
        assert found.status_code == 200, found.text
        return list(found.json()["alerts"])

    def raised_once(self, rule: str, entity: str) -> dict[str, Any]:
        """The one alert of ``rule`` on ``entity``: waits for it, then checks it is alone and
        stands for one detection."""
        for _ in range(DEADLINE):
            alerts = self.alerts(rule, entity)
            if alerts:
                break
            time.sleep(1)
        else:
            pytest.fail(f"no {rule} alert on {entity} within {DEADLINE} s")
        time.sleep(3)  # a second detection of the same attack would fold in meanwhile
        (alert,) = self.alerts(rule, entity)
        assert alert["count"] == 1, alert
        return alert


def login_client(live: Live, source: str) -> BrowserlessLogin:
    login = BrowserlessLogin(live.keycloak.url, live.realm, CONSOLE)
    login.http.close()
    transport = httpx.HTTPTransport(local_address=source)
    login.http = httpx.Client(follow_redirects=False, timeout=15, transport=transport)
    return login


def sign_in(
    live: Live, username: str, password: str, *, source: str = "127.0.0.1"
) -> dict[str, Any]:
    """Keycloak's login form; the tokens when the password was right (OTP enrolled on the way
    for administrators), else an empty dict."""
    login = login_client(live, source)
    try:
        page = login.submit(login.start(), "kc-form-login", username=username, password=password)
        if login.code is None and "totpSecret" in page.text:
            _, fields = page.form()
            secret = fields["totpSecret"]
            login.submit(page, None, totp=totp(secret), userLabel="test")
        return login.tokens() if login.code else {}
    finally:
        login.close()


def fail(live: Live, username: str, times: int, source: str) -> None:
    for _ in range(times):
        assert not sign_in(live, username, WRONG, source=source)


@pytest.fixture(scope="module")
def live(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    realm = unique("kcrules")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    env = keycloak.env
    admin = admin_for(keycloak)
    admin.change_current_realm(realm)
    client = KeycloakAdmins(
        AdminCredentials.bootstrap(
            keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
        ),
        realm,
    ).rest()
    directory = KeycloakOrgDirectory(client)
    province = directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    prefecture = directory.create_node(province, NodeKind.PREFECTURE, "530100", "昆明市")
    county = directory.create_node(prefecture, NodeKind.COUNTY, "530102", "五华区")
    sibling = directory.create_node(prefecture, NodeKind.COUNTY, "530103", "盘龙区")
    state = tmp_path_factory.mktemp("kcrules")
    settings = state_env(state) | {
        "ANBAO_DATA_DIR": str(state),
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_REQUIRED": "false",
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": env["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": env["KEYCLOAK_ADMIN_PASSWORD"],
        "ANBAO_KEYCLOAK_EVENTS_INTERVAL_SECONDS": "1",
        "ANBAO_AUDIT_RECORD_REQUESTS": "false",
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(state / "alerts.sqlite3"),
        "ANBAO_SIEM_RESPONSES_ENABLED": "false",
    }
    try:
        with serve(state, settings) as (base, _log):
            nodes = {
                "province": province,
                "prefecture": prefecture,
                "county": county,
                "sibling": sibling,
            }
            result = Live(keycloak, realm, base, admin, directory, nodes)
            # A province-wide analyst (bound to the root): events without an org, such as unknown
            # user names and the realm's own settings, are theirs to see too.
            result.analyst = result.reader("province", "security-analyst")
            yield result
    finally:
        admin_for(keycloak).delete_realm(realm)
        client.close()


def test_bruteforce_account_from_the_login_form(live: Live) -> None:
    victim = live.person("county")
    fail(live, victim["username"], 10, live.source())
    alert = live.raised_once("anbao_bruteforce_account", f"user.name={victim['username']}")
    assert alert["event_count"] >= 10
    assert alert["org_path"] == "/530000/530100/530102"  # the victim's place, from the directory


def test_password_spraying_from_one_source(live: Live) -> None:
    source = live.source()
    names = [unique("nobody") for _ in range(10)]  # user names that do not even exist
    for name in names:
        fail(live, name, 1, source)
    alert = live.raised_once("anbao_password_spraying", f"source.ip={source}")
    assert alert["event_count"] >= 10


def test_success_after_failures(live: Live) -> None:
    victim = live.person("county")
    fail(live, victim["username"], 10, live.source())
    # Keycloak locked the account; a helpdesk unlocks it and the attacker's guess then succeeds
    live.admin.clear_bruteforce_attempts_for_user(victim["id"])
    assert sign_in(live, victim["username"], PASSWORD, source=live.source())
    live.raised_once("anbao_success_after_failures", f"user.name={victim['username']}")


def test_login_from_a_new_source(live: Live) -> None:
    person = live.person("county")
    assert sign_in(live, person["username"], PASSWORD, source=live.source())
    assert sign_in(live, person["username"], PASSWORD, source=live.source())
    live.raised_once("anbao_login_new_source", f"user.name={person['username']}")


def test_keycloak_lockout_names_the_locked_user(live: Live) -> None:
    victim = live.person("county")
    fail(live, victim["username"], 5, live.source())
    entity = f"user.name={victim['username']}"
    alert = live.raised_once("anbao_keycloak_lockout", entity)
    assert alert["org_path"] == "/530000/530100/530102"
    # An analyst of the victim's county sees the alert and the lockout event; one of the
    # sibling county sees neither (the org path came from the directory, not from a token).
    county = live.reader("county", "security-analyst")
    sibling = live.reader("sibling", "security-analyst")
    assert [a["id"] for a in live.alerts("anbao_keycloak_lockout", entity, county)] == [alert["id"]]
    assert live.alerts("anbao_keycloak_lockout", entity, sibling) == []
    query = {
        "q": f'event.action:"keycloak.user-disabled-by-temporary-lockout" AND {entity.replace("=", ":")}'
    }
    seen = live.get("/audit/events", query, county)
    assert seen.status_code == 200, seen.text
    (event,) = seen.json()["events"]
    assert event["user"]["name"] == victim["username"]
    assert event["organization"]["path"] == "/530000/530100/530102"
    hidden = live.get("/audit/events", query, sibling)
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["events"] == []


def test_keycloak_realm_changed(live: Live) -> None:
    live.admin.update_realm(live.realm, {"displayName": "Anbao (changed by a test)"})
    live.raised_once("anbao_keycloak_realm_changed", "")


def test_keycloak_auth_flow_changed(live: Live) -> None:
    live.admin.copy_authentication_flow({"newName": unique("flow")}, "anbao browser")
    live.raised_once("anbao_keycloak_auth_flow_changed", "")


def test_admin_otp_removed(live: Live) -> None:
    administrator = live.person("county", "org-admin")
    assert sign_in(live, administrator["username"], PASSWORD)  # enrols OTP (administrators must)
    credentials = live.admin.get_credentials(administrator["id"])
    (otp,) = [c for c in credentials if c["type"] == "otp"]
    live.admin.delete_credential(administrator["id"], otp["id"])
    alert = live.raised_once(
        "anbao_admin_otp_removed", f"resource.name={administrator['username']}"
    )
    assert alert["org_path"] == "/530000/530100/530102"


def test_token_reuse(live: Live) -> None:
    person = live.person("county")
    tokens = sign_in(live, person["username"], PASSWORD)
    url = f"{live.keycloak.url}/realms/{live.realm}/protocol/openid-connect/token"
    data = {"grant_type": "refresh_token", "client_id": CONSOLE}
    first = httpx.post(url, data=data | {"refresh_token": tokens["refresh_token"]}, timeout=15)
    assert first.status_code == 200, first.text
    again = httpx.post(url, data=data | {"refresh_token": tokens["refresh_token"]}, timeout=15)
    assert again.status_code == 400, again.text  # refresh tokens are single use in the realm
    live.raised_once("anbao_token_reuse", f"user.name={person['username']}")
