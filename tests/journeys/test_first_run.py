"""Journey 1, first run: the bootstrap admin signs in, makes a county, invites its org-admin, who
activates and invites a clerk.

Public interfaces only: ``anbao iam bootstrap`` and ``anbao iam people invite`` as
subprocesses, a real ``anbao serve`` on a throwaway realm converged from the production realm
file, HTTP to it, and Keycloak's real pages in Chromium (sign-in, forced password change, OTP
enrolment; API tokens through the ``anbao-console`` client with authorization code + PKCE in
the browser). Nobody's password or role is set through Keycloak's admin API.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.integration.anbao.serving import free_port, serve
from tests.integration.anbao.stack import served_realm_env
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    REALM_DIR,
    admin_for,
    apply_file,
    unique,
)
from tests.journeys.browser import KeycloakPages, Person, chromium

ANBAO = Path(sys.executable).with_name("anbao")  # the venv's console script


class Callback:
    """The console's redirect URI: a loopback HTTP server that keeps the codes it receives
    (as a native app's loopback redirect does, RFC 8252 §7.3)."""

    def __init__(self) -> None:
        codes: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                codes.extend(parse_qs(urlsplit(self.path).query).get("code", []))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"signed in")

            def log_message(self, *args: object) -> None:
                del args

        self.codes = codes
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FirstRun:
    def __init__(
        self, keycloak: Server, realm: str, env: dict[str, str], callback: Callback
    ) -> None:
        self.keycloak, self.realm, self.env, self.callback = keycloak, realm, env, callback
        self.base = ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ANBAO), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def api(self, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=60, **kw)

    def api_token(self, context: BrowserContext, person: Person, new_password: str = "") -> str:
        """Sign in to ``anbao-console`` in the browser (authorization code + PKCE S256) and
        redeem the code: what the console does for a person."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "client_id": CONSOLE,
            "redirect_uri": self.callback.uri,
            "response_type": "code",
            "scope": "openid",
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        oidc = f"{self.keycloak.url}/realms/{self.realm}/protocol/openid-connect"
        page = context.new_page()
        page.goto(f"{oidc}/auth?{urlencode(query)}")
        if not page.url.startswith(self.callback.uri):  # no session yet: sign in
            KeycloakPages(page).sign_in(person, new_password=new_password or None)
            page.wait_for_url(self.callback.uri + "?*")
        page.close()
        codes = self.callback.codes
        assert codes, f"{person.username} did not come back with a code"
        answer = httpx.post(
            f"{oidc}/token",
            data={
                "grant_type": "authorization_code",
                "code": codes.pop(),
                "redirect_uri": self.callback.uri,
                "client_id": CONSOLE,
                "code_verifier": verifier,
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


def clerk_id(run: Any, token: str) -> str:
    """The clerk's id, as the people search shows it to a platform-admin."""
    found = run.api(token, "GET", "/iam/people", params={"q": "wuhua-clerk"})
    assert found.status_code == 200, found.text
    return str(found.json()["items"][0]["id"])


def activate(context: BrowserContext, link: str, username: str, new_password: str) -> Person:
    """The invited person opens the link, presses the button, reads the one-time password,
    follows the sign-in link and does what Keycloak asks (new password; OTP if an admin)."""
    page = context.new_page()
    KeycloakPages(page)  # the same patience for Anbao's page as for Keycloak's
    page.goto(link)
    assert page.locator("#activate").count() == 1, page.content()
    page.click("#activate")
    page.wait_for_selector("#password")
    assert page.inner_text("#username") == username
    person = Person(username, page.inner_text("#password").strip())
    page.click("#sign-in")
    KeycloakPages(page).sign_in(person, new_password=new_password)
    page.close()
    again = httpx.post(link, timeout=30)
    assert again.status_code == 404, "an activation link works once"
    return person


@pytest.fixture(scope="module")
def first_run(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    realm = unique("firstrun")
    callback = Callback()
    applied = apply_file(
        keycloak, REALM_DIR / "anbao-realm.yaml", realm, console_redirect_uri=callback.uri
    )
    assert applied.applied
    state = tmp_path_factory.mktemp("firstrun")
    env = served_realm_env(keycloak, realm, state)
    run = FirstRun(keycloak, realm, env, callback)
    try:
        with serve(state, env) as (base, log):
            run.base = base
            run.env["ANBAO_API_URL"] = base
            yield run
        errors = [line for line in log.read_text().splitlines() if '"log.level": "error"' in line]
        assert not errors, "\n".join(errors[:5])
    finally:
        callback.close()
        admin_for(keycloak).delete_realm(realm)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


def test_the_first_admin_builds_a_county_and_its_people_get_in(
    first_run: FirstRun, browser: Browser
) -> None:
    run = first_run
    boot = run.cli("iam", "bootstrap", "--email", "root@example.test", "--json")
    assert boot.returncode == 0, boot.stderr
    made = json.loads(boot.stdout)
    assert run.cli("iam", "bootstrap").returncode == 1  # once only

    # The admin signs in: Keycloak makes them choose a password and enrol OTP.
    root = Person(made["username"], made["password"])
    admin_token = run.api_token(browser.new_context(), root, "Root-Chosen-9!pass")
    assert root.otp_secret, "the platform-admin enrolled an authenticator"

    nodes: dict[str, dict[str, Any]] = {}
    for key, parent, kind, code, name in (
        ("province", None, "province", "530000", "云南省"),
        ("prefecture", "province", "prefecture", "530100", "昆明市"),
        ("county", "prefecture", "county", "530102", "五华区"),
    ):
        body = {"kind": kind, "code": code, "name": name}
        if parent:
            body["parent_id"] = nodes[parent]["id"]
        answer = run.api(admin_token, "POST", "/iam/orgs", json=body)
        assert answer.status_code == 201, answer.text
        nodes[key] = answer.json()

    county = nodes["county"]["id"]
    invited = run.api(
        admin_token,
        "POST",
        "/iam/invitations",
        json={
            "username": "wuhua-admin",
            "family_name": "李",
            "given_name": "管理",
            "email": "wuhua-admin@example.test",
            "memberships": [county],
            "role": "org-admin",
            "node_id": county,
        },
    )
    assert invited.status_code == 201, invited.text
    invitation = invited.json()
    assert invitation["delivery"] == "link"  # the realm has no SMTP
    assert invitation["activation_url"].startswith(run.base + "/activate/")

    # The org-admin activates the link and signs in (new password, OTP enrolment).
    county_admin = browser.new_context()
    org_admin = activate(
        county_admin, invitation["activation_url"], "wuhua-admin", "Org-Chosen-9!pass"
    )
    assert org_admin.otp_secret, "an org-admin enrols OTP at first sign-in"
    org_token = run.api_token(county_admin, org_admin)

    # ... and invites a clerk with the CLI, as themself, inside their county only.
    outside = run.cli(
        "iam", "people", "invite", "stray", "--family-name", "王", "--given-name", "五",
        "--org", "530100", "--token", org_token,
    )  # fmt: skip
    assert outside.returncode == 1
    assert len(outside.stderr.strip().splitlines()) == 1, outside.stderr
    clerk_invite = run.cli(
        "iam", "people", "invite", "wuhua-clerk", "--family-name", "张", "--given-name", "三",
        "--email", "clerk@example.test", "--org", "530102", "--json", "--token", org_token,
    )  # fmt: skip
    assert clerk_invite.returncode == 0, clerk_invite.stderr
    link = json.loads(clerk_invite.stdout)["activation_url"]

    clerk = activate(browser.new_context(), link, "wuhua-clerk", "Clerk-Chosen-9!pass")
    assert clerk.otp_secret is None, "a clerk is no administrator: no OTP enrolment"
    found = run.cli("iam", "people", "find", "wuhua", "--json", "--token", org_token)
    assert found.returncode == 0, found.stderr
    assert {p["username"] for p in json.loads(found.stdout)["items"]} == {
        "wuhua-admin",
        "wuhua-clerk",
    }

    # The platform has an app with a role; the org-admin gives it to the clerk of their county.
    app = run.api(
        admin_token,
        "POST",
        "/iam/apps",
        json={
            "client_id": "permits-wuhua",
            "type": "public",
            "redirect_uris": ["http://127.0.0.1:8765/callback"],
            "roles": ["approver"],
        },
    )
    assert app.status_code == 201, app.text
    granted = run.cli(
        "iam", "apps", "grant", "permits-wuhua", "wuhua-clerk", "approver", "--token", org_token
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    roles = run.cli("iam", "apps", "roles", "permits-wuhua", "--token", org_token)
    assert roles.returncode == 0, roles.stderr
    assert json.loads(roles.stdout)["roles"] == [
        {
            "name": "approver",
            "holders": [{"id": clerk_id(run, admin_token), "username": "wuhua-clerk"}],
        }
    ]
