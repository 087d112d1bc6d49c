"""Issue 17 journey 2: an app developer signs in at the command line and ships an app; a clerk
signs in to it, steps up, and gets the app's role.

Public interfaces only: ``anbao login`` as a subprocess with the device code confirmed in
Debian's Chromium on Keycloak's real pages, ``anbao`` commands acting through a real
``anbao serve`` as that person, the example app (examples/permits_app.py) as its own uvicorn
process signing the clerk in with code + PKCE in the same browser. The Keycloak admin API is
used only where the platform has no interface in this branch: the first platform-admin and
people's passwords (invitations are issue 17 §2, built alongside).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from keycloak import KeycloakAdmin
from playwright.sync_api import Browser, Page

from tests.integration.anbao.cli_login import anbao, device_login, whoami
from tests.integration.anbao.serving import free_port, serve
from tests.integration.anbao.stack import served_realm_env
from tests.integration.conftest import ROOT, Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    PASSWORD,
    REALM_DIR,
    BrowserlessLogin,
    add_user,
    admin_for,
    apply_file,
    totp,
    unique,
)
from tests.journeys.browser import KeycloakPages, Person, chromium

APP = "permits-demo"


@dataclasses.dataclass
class Stack:
    base: str
    keycloak: Server
    realm: str
    env: dict[str, str]
    admin: KeycloakAdmin
    root_refresh: str
    browser: Browser

    def api(self, token: str, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=60, **kw)

    def root(self) -> str:
        """The platform-admin's fresh access token (set-up: people and the org they belong to)."""
        url = f"{self.keycloak.url}/realms/{self.realm}/protocol/openid-connect/token"
        data = {"grant_type": "refresh_token", "client_id": CONSOLE}
        answer = httpx.post(url, data=data | {"refresh_token": self.root_refresh}, timeout=30)
        assert answer.status_code == 200, answer.text
        self.root_refresh = answer.json()["refresh_token"]
        return str(answer.json()["access_token"])

    def person(self, node: str, role: str | None) -> Person:
        """A person made by the platform-admin through the API; the password set at Keycloak."""
        username = unique("p")
        body = {
            "username": username,
            "family_name": "测",
            "given_name": "试",
            "email": f"{username}@example.test",
            "memberships": [node],
        }
        made = self.api(self.root(), "POST", "/iam/people", json=body)
        assert made.status_code == 201, made.text
        self.admin.set_user_password(made.json()["id"], PASSWORD, temporary=False)
        if role:
            path = f"/iam/people/{made.json()['id']}/roles/{role}"
            granted = self.api(self.root(), "PUT", path, json={})
            assert granted.status_code == 200, granted.text
        return Person(username, PASSWORD)

    def cli_env(self, home: Path) -> dict[str, str]:
        """What a developer's shell has: where Keycloak and the API are, their config dir."""
        return {
            "ANBAO_KEYCLOAK_URL": self.keycloak.url,
            "ANBAO_KEYCLOAK_REALM": self.realm,
            "ANBAO_API_URL": self.base,
            "ANBAO_CONFIG_DIR": str(home / ".config" / "anbao"),
        }


def root_sign_in(keycloak: Server, realm: str, username: str) -> str:
    """The first platform-admin's refresh token (password, OTP enrolment), without a browser."""
    login = BrowserlessLogin(keycloak.url, realm, CONSOLE)
    try:
        page = login.submit(login.start(), "kc-form-login", username=username, password=PASSWORD)
        if login.code is None and "totpSecret" in page.text:
            _, fields = page.form()
            login.submit(page, None, totp=totp(fields["totpSecret"]), userLabel="journey")
        assert login.code, f"{username} did not finish signing in"
        return str(login.tokens()["refresh_token"])
    finally:
        login.close()


@pytest.fixture(scope="module")
def stack(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    realm = unique("journey2")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    admin = admin_for(keycloak)
    root = unique("root")
    add_user(admin, realm, root, roles=("platform-admin",))
    state = tmp_path_factory.mktemp("journey2")
    env = served_realm_env(keycloak, realm, state)
    try:
        with serve(state, env) as (base, log), chromium() as browser:
            yield Stack(
                base, keycloak, realm, env, admin, root_sign_in(keycloak, realm, root), browser
            )
        errors = [line for line in log.read_text().splitlines() if '"log.level": "error"' in line]
        assert not errors, "\n".join(errors[:5])
    finally:
        admin.delete_realm(realm)


@pytest.fixture
def permits_app(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """examples/permits_app.py as its own process, as its README runs it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PERMITS_KEYCLOAK_URL": stack.keycloak.url,
        "PERMITS_REALM": stack.realm,
        "PERMITS_CLIENT_ID": APP,
        "PERMITS_REDIRECT_URI": f"{base}/callback",
    }
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "examples")]
    log = (tmp_path / "permits.log").open("w")
    proc = subprocess.Popen(
        [*command, "permits_app:app", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_up(base)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _wait_up(base: str) -> None:
    for _ in range(150):
        try:
            httpx.get(base + "/", timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    raise AssertionError(f"{base} did not start")


def claims(token: str) -> dict[str, Any]:
    """A token's claims, read to assert on (the example app verified the token itself)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def app_token(page: Page, app: str) -> str:
    """The clerk's access token, as the example app's home page shows it after sign-in."""
    page.wait_for_url(f"{app}/")
    token = json.loads(page.inner_text("body"))["access_token"]
    return str(token)


def test_a_developer_signs_in_at_the_cli_ships_an_app_and_a_clerk_uses_it(
    stack: Stack, permits_app: str, tmp_path: Path
) -> None:
    s = stack
    province = s.api(
        s.root(), "POST", "/iam/orgs", json={"kind": "province", "code": "530000", "name": "云南省"}
    )
    assert province.status_code == 201, province.text
    node = province.json()["id"]
    developer = s.person(node, "app-developer")
    clerk = s.person(node, None)
    dev = developer_ships_the_app(s, developer, tmp_path / "developer", permits_app)
    clerk_signs_in_and_steps_up(s, clerk, dev, permits_app)


def developer_ships_the_app(
    s: Stack, developer: Person, home: Path, app_base: str
) -> dict[str, str]:
    """Steps 1-2; returns the developer's shell environment (their CLI session)."""
    # 1. The developer signs in at the command line: the device code, confirmed in a browser.
    dev = s.cli_env(home)
    said = device_login(dev, s.browser, developer)
    assert said.strip().endswith(f"as {developer.username}")
    me = whoami(dev)
    assert me["username"] == developer.username
    assert "app-developer" in me["roles"]

    # 2. ... and registers the app, which is theirs (not the CLI's, not an operator's).
    done = anbao(
        dev, "iam", "apps", "register", APP, "--type", "public",
        "--redirect-uri", f"{app_base}/callback", "--role", "approver",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    app = json.loads(done.stdout)["app"]
    assert app["owner"] == me["subject"]
    return dev


def clerk_signs_in_and_steps_up(
    s: Stack, clerk: Person, dev: dict[str, str], permits_app: str
) -> None:
    """Steps 3-5 in one browser tab (the clerk's Keycloak session carries over)."""
    # 3. The clerk signs in to the example app (authorization code + PKCE, in the browser).
    page = s.browser.new_page()
    keycloak = KeycloakPages(page)
    page.goto(f"{permits_app}/login")
    keycloak.sign_in(clerk)
    token = app_token(page, permits_app)
    bearer = {"Authorization": f"Bearer {token}"}
    permits = httpx.get(f"{permits_app}/api/permits", headers=bearer)
    assert permits.status_code == 200, permits.text
    assert (permits.json()["for"], permits.json()["acr"]) == (clerk.username, "1")
    approve = httpx.post(f"{permits_app}/api/permits/approve", headers=bearer)
    assert approve.status_code == 401  # RFC 9470: step up first
    assert 'acr_values="2"' in approve.headers["www-authenticate"]

    # 4. Step-up to acr 2: Keycloak asks the clerk for an OTP (enrolling one the first time).
    page.goto(f"{permits_app}/login?acr=2")
    keycloak.finish_required_actions(clerk)
    assert clerk.otp_secret, "step-up did not ask for an OTP"
    token = app_token(page, permits_app)
    assert claims(token)["acr"] == "2"
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{permits_app}/api/permits", headers=bearer).json()["acr"] == "2"
    approve = httpx.post(f"{permits_app}/api/permits/approve", headers=bearer)
    assert approve.status_code == 403, approve.text  # the right level, not yet the role

    # 5. The owner grants the app role at the CLI; it arrives in the clerk's token.
    done = anbao(dev, "iam", "apps", "grant", APP, clerk.username, "approver")
    assert done.returncode == 0, done.stderr
    page.goto(f"{permits_app}/login?acr=2")
    keycloak.finish_required_actions(clerk)
    token = app_token(page, permits_app)
    assert "approver" in claims(token)["resource_access"][APP]["roles"]
    approve = httpx.post(
        f"{permits_app}/api/permits/approve", headers={"Authorization": f"Bearer {token}"}
    )
    assert approve.status_code == 200, approve.text
    assert approve.json()["by"] == clerk.username
    page.close()
