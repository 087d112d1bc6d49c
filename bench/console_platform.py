"""The signed-in people the console bench times: a session cookie and a bearer token each.

The platform is the console journeys' (tests/journeys/console/platform.py: a converged realm,
``anbao dev seed``, a real ``anbao serve``, Debian's Chromium), reused, not copied; its server
reads the process environment, so the bench's audit-store settings reach it from there. The
cookie comes from the person's browser context after signing in through the console's own
pages; the console never lets its tokens out, so the bearer token for the direct API calls is
got separately, as the seal journey gets one (client ``anbao-console``, code + PKCE S256, in the
same browser), and refreshed with its refresh token outside the timed requests.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.integration.conftest import Server, _env
from tests.journeys.browser import KeycloakPages
from tests.journeys.console.platform import ConsolePlatform, start
from tests.journeys.test_seal_journey import CONSOLE, Platform

#: Refresh the bench's bearer token when it has less than this many seconds left.
_MARGIN = 60.0


@contextlib.contextmanager
def demo_platform(env: dict[str, str]) -> Iterator[ConsolePlatform]:
    """The console journeys' demo platform, its server started with ``env`` on top."""
    found = _env("keycloak")
    keycloak = Server("keycloak", found["KEYCLOAK_URL"], found)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="anbao-bench-console-") as tmp,
            contextlib.contextmanager(start)(keycloak, Path(tmp)) as served,
            served.in_browser() as platform,
        ):
            yield platform
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def session_cookie(platform: ConsolePlatform, username: str) -> str:
    """``name=value`` of the console's session cookie, signed in through the console.

    As ``ConsolePlatform.page`` does, except the wait for the way back: the console now lands
    on ``/console`` (no slash), which that method's ``/console/**`` pattern does not match.
    """
    page = platform.context(username).new_page()
    page.goto(platform.base + "/console/")
    if not page.url.startswith(platform.base):
        KeycloakPages(page).sign_in(platform.person(username))
        page.wait_for_url(lambda url: url.startswith(platform.base + "/console"))
    page.close()
    for cookie in platform.context(username).cookies(platform.base):
        if cookie["name"].endswith("anbao-console"):
            return f"{cookie['name']}={cookie['value']}"
    raise RuntimeError(f"no console session cookie for {username}")


class BearerToken:
    """The person's access token of ``anbao-console``, fresh whenever :meth:`value` is read."""

    def __init__(self, platform: ConsolePlatform, username: str) -> None:
        self._platform = platform
        self._journey = Platform(
            platform.base, platform.keycloak, platform.realm, platform.state, platform.browser
        )
        self._tokens = self._journey.sign_in(username)
        self._at = time.time()

    def value(self) -> str:
        if time.time() - self._at > float(self._tokens["expires_in"]) - _MARGIN:
            self._tokens = self._refreshed()
            self._at = time.time()
        return str(self._tokens["access_token"])

    def _refreshed(self) -> dict[str, Any]:
        answer = httpx.post(
            self._journey.oidc("token"),
            data={
                "grant_type": "refresh_token",
                "refresh_token": self._tokens["refresh_token"],
                "client_id": CONSOLE,
            },
            timeout=30,
        )
        answer.raise_for_status()
        return dict(answer.json())
