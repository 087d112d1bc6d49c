"""The demo platform for console journeys: one realm, one seeded ``anbao serve``, one browser.

What a newcomer gets from ``make run``: the production realm file converged into a throwaway
realm, ``anbao dev seed`` (the demo people, org tree, app, seals and report sign-off with
development keys), and a real ``anbao serve`` with the seed's settings. Each demo person gets a
browser context of their own and signs in to the console the way a person does: the console's
sign-in button, Keycloak's pages (password; OTP for administrators), back to the console.

The server and realm start once per test session (the console tests share them; each test
uses names of its own); the browser is opened per test module and closed after it, because
Playwright's sync driver holds the thread's event loop while it runs (tests/journeys/browser.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page

from anbao.demo import data
from tests.integration.anbao.serving import serve
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import REALM_DIR, admin_for, apply_file, unique
from tests.journeys.browser import KeycloakPages, Person, chromium

ANBAO = Path(sys.executable).with_name("anbao")  # the venv's console script
#: The console's pages are drawn at this size (docs/console.md's screenshots too).
VIEWPORT = {"width": 1440, "height": 900}


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANBAO), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        input=stdin,
    )


class ConsolePlatform:
    """The running demo platform: its base URL, its settings' environment, a page per person."""

    def __init__(  # noqa: PLR0917 - the parts of one platform, built in one place
        self,
        base: str,
        keycloak: Server,
        realm: str,
        state: Path,
        env: dict[str, str],
        browser: Browser,
    ) -> None:
        self.base, self.keycloak, self.realm, self.state, self.env = (
            base,
            keycloak,
            realm,
            state,
            env,
        )
        self.browser = browser
        self._contexts: dict[str, BrowserContext] = {}

    def context(self, username: str) -> BrowserContext:
        """The person's own browser (cookies kept between tests: one sign-in per person)."""
        if username not in self._contexts:
            self._contexts[username] = self.browser.new_context(
                viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
        return self._contexts[username]

    def page(self, username: str, path: str = "/console/") -> Page:
        """A new tab of ``username``'s browser at ``path``, signed in (on Keycloak's pages when
        the console sends the person there)."""
        page = self.context(username).new_page()
        page.set_default_timeout(30_000)
        page.goto(self.base + path)
        if not page.url.startswith(self.base):
            KeycloakPages(page).sign_in(self.person(username))
            page.wait_for_url(self.base + "/console/**")
            page.wait_for_load_state()
        return page

    def anonymous(self, path: str) -> Page:
        """A tab of a browser that never signed in (the public verification page)."""
        context = self.browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        page = context.new_page()
        page.goto(self.base + path)
        return page

    @staticmethod
    def person(username: str) -> Person:
        return Person(username, data.PASSWORD, data.OTP_KEY)

    def step_up(self, page: Page, username: str) -> None:
        """Answer Keycloak's OTP prompt the console sent the person to, then wait for the
        console's resume page."""
        page.wait_for_url(self.keycloak.url + "/**")
        KeycloakPages(page).finish_required_actions(self.person(username))
        page.wait_for_url(self.base + "/console/**")

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=60, **kw)

    def close(self) -> None:
        for context in self._contexts.values():
            context.close()


@dataclasses.dataclass(frozen=True)
class Served:
    """The running server of the session: where it is and the settings it runs with."""

    base: str
    keycloak: Server
    realm: str
    state: Path
    env: dict[str, str]

    @contextlib.contextmanager
    def in_browser(self) -> Iterator[ConsolePlatform]:
        """The platform with a browser of its own, closed on exit."""
        with chromium() as browser:
            platform = ConsolePlatform(
                self.base, self.keycloak, self.realm, self.state, self.env, browser
            )
            try:
                yield platform
            finally:
                platform.close()


def start(keycloak: Server, state: Path) -> Iterator[Served]:
    """Converge a fresh realm, seed it, serve it; yield the server; delete the realm."""
    realm = unique("console")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    kc = keycloak.env
    env = {
        "ANBAO_DATA_DIR": str(state),
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": kc["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": kc["KEYCLOAK_ADMIN_PASSWORD"],
        "ANBAO_KEYCLOAK_CLIENT_ID": "anbao-api",
        "ANBAO_KEYCLOAK_CLIENT_SECRET": kc["ANBAO_KEYCLOAK_CLIENT_SECRET"],
        "ANBAO_CONSOLE_CLIENT_SECRET": kc["ANBAO_CONSOLE_CLIENT_SECRET"],
    }
    try:
        seeded = cli(env, "dev", "seed")
        assert seeded.returncode == 0, seeded.stderr
        env["ANBAO_CONFIG"] = str(state / "demo" / "anbao.toml")
        with serve(state, env) as (base, log):
            yield Served(base, keycloak, realm, state, env)
        errors = [line for line in log.read_text().splitlines() if '"log.level": "error"' in line]
        assert not errors, "\n".join(errors[:5])
    finally:
        admin_for(keycloak).delete_realm(realm)
