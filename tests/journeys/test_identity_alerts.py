"""Journey 3: an account under attack at Keycloak's login page reaches the analysts, who end its
sessions with four eyes.

Someone types wrong passwords for a clerk on the real Keycloak login page in Chromium until
Keycloak locks the account. Nothing else tells Anbao: the running ``anbao serve`` pulls
Keycloak's events itself, names the locked person and places them in the org tree from the
directory, and its detections raise the lockout alert. A provincial analyst finds the alert
naming the clerk, opens its evidence in the audit trail, and asks to end the clerk's sessions; a
second analyst approves at the command line; Keycloak then holds no session of the clerk, and
the clerk's browser is asked to sign in again.

Public interfaces only: Chromium on Keycloak's pages, HTTP to the real server, the ``anbao``
CLI. The Keycloak admin API is used for set-up the platform has no interface for (a throwaway
realm, the first platform-admin, passwords) and to look at the clerk's sessions at the end.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.anbao.serving import serve
from tests.integration.anbao.stack import served_realm_env
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    PASSWORD,
    REALM_DIR,
    REDIRECT,
    add_user,
    admin_for,
    apply_file,
    unique,
)
from tests.journeys.browser import KeycloakPages, Person, chromium
from tests.journeys.test_hardening import Stack, console_sign_in, org_tree

#: Seconds from the lockout to the alert the issue allows.
ALERT_DEADLINE = 60


@pytest.fixture(scope="module")
def stack(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    realm = unique("journey3")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    admin = admin_for(keycloak)
    root = add_user(admin, realm, unique("root"), roles=("platform-admin",))
    state = tmp_path_factory.mktemp("journey3")
    env = served_realm_env(keycloak, realm, state)
    try:
        with serve(state, env) as (base, _log):
            root_name = admin.get_user(root)["username"]
            made = Stack(base, keycloak, realm, env, admin)
            made.root_refresh = console_sign_in(made, root_name)["refresh_token"]
            org_tree(made)
            yield made
    finally:
        admin.delete_realm(realm)


def login_url(stack: Stack) -> str:
    """The console's authorization request (RFC 7636 S256: the client requires PKCE)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "client_id": CONSOLE,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return f"{stack.oidc('auth')}?{urlencode(query)}"


def lockout_alert(stack: Stack, token: str, username: str) -> dict[str, Any]:
    """Polls the alert list as the analyst until the lockout alert on ``username`` is there."""
    deadline = time.monotonic() + ALERT_DEADLINE
    while time.monotonic() < deadline:
        found = stack.api(token, "GET", "/siem/alerts", params={"entity": f"user.name={username}"})
        assert found.status_code == 200, found.text
        locked = [a for a in found.json()["alerts"] if "locked" in a["rule"]["title"]]
        if locked:
            return dict(locked[0])
        time.sleep(1)
    pytest.fail(f"no lockout alert on {username} within {ALERT_DEADLINE} s")


def test_a_locked_account_reaches_the_analysts_who_end_its_sessions(stack: Stack) -> None:
    s = stack
    clerk = s.person("dept_a")
    # Two provincial analysts, given the province-wide scope through Anbao by the platform-admin.
    first, second = s.person("province"), s.person("province")
    for analyst in (first, second):
        granted = s.cli(
            "siem", "analysts", "grant", analyst["id"], "--province-wide", "--token", s.root()
        )  # fmt: skip
        assert granted.returncode == 0, granted.stdout + granted.stderr

    with chromium() as browser:
        # The clerk is signed in (a live Keycloak session) ...
        clerks = browser.new_context()
        clerks.route(REDIRECT + "**", lambda route: route.fulfill(body="signed in"))
        page = clerks.new_page()
        page.goto(login_url(s))
        KeycloakPages(page).sign_in(Person(clerk["username"], PASSWORD))
        page.wait_for_url(REDIRECT + "**")
        # ... while someone elsewhere types wrong passwords for the clerk until Keycloak locks it.
        attacker = browser.new_context().new_page()
        pages = KeycloakPages(attacker)
        attacker.goto(login_url(s))
        for attempt in range(8):
            pages.sign_in(Person(clerk["username"], f"Guess-{attempt}-{secrets.token_hex(2)}!"))
            assert pages.error_text(), "Keycloak accepted a wrong password"
        locked = s.admin.get_bruteforce_detection_status(clerk["id"])
        assert locked["disabled"], locked

        a_token = console_sign_in(s, first["username"])["access_token"]
        alert = lockout_alert(s, a_token, clerk["username"])
        assert alert["entity_values"] == [clerk["username"]]
        assert alert["org_path"] == s.nodes["dept_a"]["path"]

        # The evidence: the alert's link opens the lockout event, naming the clerk.
        detail = s.api(a_token, "GET", f"/siem/alerts/{alert['id']}")
        assert detail.status_code == 200, detail.text
        link = detail.json()["links"]["audit_search_url"]
        evidence = s.api(a_token, "GET", link.removeprefix(s.base))
        assert evidence.status_code == 200, evidence.text
        events = evidence.json()["events"]
        assert len(events) == alert["event_count"] >= 1
        for event in events:
            assert event["event"]["action"].startswith("keycloak.user-disabled-by-")
            assert event["user"]["name"] == clerk["username"]

        # Four eyes: one analyst asks to end the clerk's sessions, the other approves.
        body = {"alert_id": alert["id"], "kind": "end_sessions"}
        requested = s.api(a_token, "POST", "/siem/actions", json=body)
        assert requested.status_code == 201, requested.text
        action = requested.json()["id"]
        assert s.admin.get_sessions(clerk["id"]), "the clerk had a session to end"
        b_token = console_sign_in(s, second["username"])["access_token"]
        approved = s.cli("siem", "actions", "approve", action, "--token", b_token)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        shown = s.api(a_token, "GET", "/siem/actions", params={"alert_id": alert["id"]})
        record = next(a for a in shown.json()["actions"] if a["id"] == action)
        assert record["state"] == "executed", record
        assert (record["requested_by"], record["decided_by"]) == (
            first["username"],
            second["username"],
        )

        # Keycloak holds no session of the clerk; their browser is asked to sign in again.
        assert s.admin.get_sessions(clerk["id"]) == []
        page.goto(login_url(s))
        page.wait_for_selector("#password")
        clerks.close()
