"""``anbao login``, ``whoami``, the refresh and ``logout`` against the real Keycloak.

A throwaway realm converged from deploy/keycloak/anbao-realm.yaml (its client ``anbao-cli``),
a real ``anbao serve`` for ``GET /whoami``, the CLI as a subprocess and Debian's Chromium on
Keycloak's pages. Keycloak is the judge of the session: a logged-out refresh token is refused
at its token endpoint, not just deleted here.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from keycloak import KeycloakAdmin
from playwright.sync_api import Browser

from anbao.cli import oauth
from tests.integration.anbao.cli_login import (
    anbao,
    credentials,
    device_login,
    finish,
    start_login,
    stored,
    whoami,
)
from tests.integration.anbao.serving import serve
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    PASSWORD,
    REALM_DIR,
    add_user,
    admin_for,
    apply_file,
    unique,
)
from tests.journeys.browser import KeycloakPages, Person, chromium


@dataclasses.dataclass
class World:
    keycloak: Server
    realm: str
    admin: KeycloakAdmin
    api: str
    browser: Browser

    def person(self) -> tuple[str, Person]:
        username = unique("dev")
        return add_user(self.admin, self.realm, username), Person(username, PASSWORD)

    def env(self, tmp_path: Path, **extra: str) -> dict[str, str]:
        return {
            "ANBAO_KEYCLOAK_URL": self.keycloak.url,
            "ANBAO_KEYCLOAK_REALM": self.realm,
            "ANBAO_CONFIG_DIR": str(tmp_path / "config" / "anbao"),
            "ANBAO_API_URL": self.api,
            **extra,
        }

    def token_endpoint(self) -> str:
        return f"{self.keycloak.url}/realms/{self.realm}/protocol/openid-connect/token"


@pytest.fixture(scope="module")
def world(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    realm = unique("cli-login")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    admin = admin_for(keycloak)
    state = tmp_path_factory.mktemp("cli-login")
    env = {
        "ANBAO_DATA_DIR": str(state),
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_REQUIRED": "false",
    }
    try:
        with serve(state, env) as (base, _), chromium() as browser:
            yield World(keycloak, realm, admin, base, browser)
    finally:
        admin.delete_realm(realm)


def test_device_login_then_whoami_through_the_api(world: World, tmp_path: Path) -> None:
    _, person = world.person()
    env = world.env(tmp_path)
    out = device_login(env, world.browser, person)
    assert out.strip().endswith(f"as {person.username}")
    path = credentials(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    me = whoami(env)
    assert (me["username"], me["client_id"], me["acr"]) == (person.username, "anbao-cli", "1")


def test_browser_login_with_pkce_and_step_up(world: World, tmp_path: Path) -> None:
    _, person = world.person()
    env = world.env(tmp_path)
    proc, line = start_login(env, "--browser", "--no-open", "--acr", "2")
    url = line.group(1)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["acr_values"] == ["2"]
    redirect = urlsplit(query["redirect_uri"][0])
    assert (redirect.hostname, redirect.path) == ("127.0.0.1", "/callback")
    # Something else on this machine answering first, with another state, is turned away and
    # the listener keeps waiting for the real answer.
    forged = httpx.get(query["redirect_uri"][0], params={"state": "forged", "code": "stolen"})
    assert forged.status_code == 400

    page = world.browser.new_page()
    try:
        page.goto(url)
        KeycloakPages(page).sign_in(person)  # level 2: Keycloak has the person enrol OTP
        assert page.url.startswith(query["redirect_uri"][0])
    finally:
        page.close()
    assert finish(proc).strip().endswith(f"as {person.username}")
    assert whoami(env)["acr"] == "2"


def test_device_login_refuses_a_level_it_cannot_get(world: World, tmp_path: Path) -> None:
    done = anbao(world.env(tmp_path), "login", "--device", "--acr", "2")
    assert done.returncode == 2
    assert "--browser" in done.stderr


def test_refresh_near_expiry_then_logout_ends_the_session_at_keycloak(
    world: World, tmp_path: Path
) -> None:
    _, person = world.person()
    env = world.env(tmp_path)
    device_login(env, world.browser, person)
    first = stored(env)
    # The access token is near expiry as far as the CLI knows: the next command refreshes.
    credentials(env).write_text(json.dumps(first | {"expires_at": 0}))
    assert whoami(env)["username"] == person.username
    second = stored(env)
    assert second["refresh_token"] != first["refresh_token"]  # rotated by the realm
    assert second["expires_at"] > 0
    # (No probe of the spent token here: Keycloak ends a session whose refresh token is
    # reused, which would do logout's work for it.)

    done = anbao(env, "logout")
    assert done.returncode == 0, done.stderr
    assert person.username in done.stdout
    assert not credentials(env).exists()
    refused = _refresh(world, second["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    nobody = anbao(env, "whoami")
    assert nobody.returncode == 2
    assert "anbao login" in nobody.stderr
    assert anbao(env, "logout").returncode == 0  # signed out already: nothing to do


def test_a_session_ended_at_keycloak_means_sign_in_again(world: World, tmp_path: Path) -> None:
    user_id, person = world.person()
    env = world.env(tmp_path)
    device_login(env, world.browser, person)
    elsewhere = world.env(tmp_path, ANBAO_KEYCLOAK_REALM="another-realm")
    refused = anbao(elsewhere, "whoami")
    assert refused.returncode == 1
    assert f"realms/{world.realm}" in refused.stderr  # never sent to the other realm's API

    world.admin.change_current_realm(world.realm)
    world.admin.user_logout(user_id)  # e.g. an analyst's response action
    credentials(env).write_text(json.dumps(stored(env) | {"expires_at": 0}))
    ended = anbao(env, "whoami")
    assert ended.returncode == 1
    assert "sign in again" in ended.stderr
    assert not credentials(env).exists()


def test_device_polling_slows_down_when_told_and_stops_at_expiry(world: World) -> None:
    """RFC 8628 §3.5 with Keycloak as the judge: polls that come faster than the interval are
    answered ``slow_down`` and each adds 5 s for good; at ``expires_in`` the CLI stops. The
    clock is the test's (each sleep advances it without waiting), so Keycloak sees fast polls."""
    provider = oauth.discover(f"{world.keycloak.url}/realms/{world.realm}")
    now, asked = [0.0], []

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        now[0] += seconds

    with pytest.raises(oauth.LoginFailed, match="expired"):
        oauth.device_sign_in(
            provider, "anbao-cli", announce=lambda *_: None, sleep=sleep, clock=lambda: now[0]
        )
    assert asked[0] == 5  # the realm's interval
    steps = {b - a for a, b in itertools.pairwise(asked)}
    assert 5 in steps  # slowed down
    assert steps <= {0, 5}  # never faster again
    assert 600 <= sum(asked) < 600 + asked[-1]  # stopped at expires_in, not later


def _refresh(world: World, refresh_token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "client_id": "anbao-cli", "refresh_token": refresh_token}
    return httpx.post(world.token_endpoint(), data=data, timeout=30)
