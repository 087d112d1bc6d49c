"""A real browser for journeys: Debian's Chromium driven by Playwright, and Keycloak's own pages.

Playwright's driver comes from PyPI; its browser download cannot work on this network and is
never used — the launch names ``/usr/bin/chromium`` (installed by ``deploy/local/prereqs.sh``).
The flags keep Chromium from calling Google's services at start (refused here, and slow).

:class:`KeycloakPages` fills Keycloak's login pages the way a person does: the sign-in form, the
forced password change, OTP enrolment (it reads the secret from the page's manual-entry mode
and answers with :mod:`pyotp`), the OTP prompt. Element ids are Keycloak's (stable across its
themes and languages), so the helpers work with the realm's zh-CN pages too.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyotp
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = os.environ.get("ANBAO_CHROMIUM", "/usr/bin/chromium")
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # the tests' redirect URI (realm_support.REDIRECT) is on port 9, which Chromium refuses
    # unless allowed; journeys answer it with page.route()
    "--explicitly-allowed-ports=9",
]


_driver: list[Playwright] = []
_open: list[Browser] = []


def _playwright() -> Playwright:
    """One Playwright driver while any browser is open, stopped when the last one closes.

    Playwright's sync API refuses a second driver while one runs (it would nest event loops),
    so browsers opened inside another's block (a console journey's browser and a test's own)
    share it; and while it runs, its event loop is the thread's, so it is stopped as soon as
    no browser needs it: tests after it may run their own loop (``asyncio.run``).
    """
    if not _driver:
        _driver.append(sync_playwright().start())
    return _driver[0]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium with an empty profile, closed on exit."""
    # Playwright gives each launch a new empty profile of its own.
    browser = _playwright().chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
    _open.append(browser)
    try:
        yield browser
    finally:
        browser.close()
        _open.remove(browser)
        if not _open:
            _driver.pop().stop()


@dataclasses.dataclass
class Person:
    """What a person remembers: their username, password and authenticator secret."""

    username: str
    password: str
    otp_secret: str | None = None

    def otp(self) -> str:
        """The current code, waiting out a code already used in this 30 s step (Keycloak
        refuses a code twice)."""
        assert self.otp_secret, f"{self.username} has no authenticator"
        totp = pyotp.TOTP(self.otp_secret)
        if time.time() % 30 > 27:
            time.sleep(31 - time.time() % 30)
        return totp.now()


def _submit(page: Page) -> None:
    page.locator("button[type=submit], input[type=submit]").first.click()


class KeycloakPages:
    """Keycloak's login pages, answered like a person; each step waits for the next page."""

    def __init__(self, page: Page, timeout_ms: int = 20_000) -> None:
        self.page = page
        page.set_default_timeout(timeout_ms)

    def sign_in(self, person: Person, *, new_password: str | None = None) -> None:
        """From a login form to wherever Keycloak sends the browser afterwards, doing the
        required actions it asks for (password change, OTP enrolment) and the OTP prompt."""
        page = self.page
        page.wait_for_selector("#username, #password")
        if page.locator("#username").count():
            page.fill("#username", person.username)
        page.fill("#password", person.password)
        page.click("#kc-login")
        self.finish_required_actions(person, new_password=new_password)

    def finish_required_actions(self, person: Person, *, new_password: str | None = None) -> None:
        """Answer the pages Keycloak shows after the password, until it redirects away."""
        page = self.page
        for _ in range(6):
            page.wait_for_load_state()
            if page.locator("#password-new").count():
                assert new_password, f"Keycloak asks {person.username} for a new password"
                page.fill("#password-new", new_password)
                page.fill("#password-confirm", new_password)
                _submit(page)
                person.password = new_password
            elif page.locator("#totp").count():
                self.enrol_otp(person)
            elif page.locator("#otp").count():
                page.fill("#otp", person.otp())
                page.click("#kc-login")
            else:
                return
        raise AssertionError(f"Keycloak kept asking: {page.url}\n{page.content()[:2000]}")

    def enrol_otp(self, person: Person) -> None:
        """The OTP set-up page: switch to manual entry, read the secret, answer with a code."""
        page = self.page
        if not page.locator("#kc-totp-secret-key").count():
            page.click("#mode-manual")
        secret = page.inner_text("#kc-totp-secret-key").replace(" ", "").strip()
        person.otp_secret = secret
        page.fill("#totp", person.otp())
        if page.locator("#userLabel").count():
            page.fill("#userLabel", "journey phone")
        page.click("#saveTOTPBtn") if page.locator("#saveTOTPBtn").count() else _submit(page)

    def grant_access(self) -> None:
        """The consent page (Keycloak always asks it in the device flow, RFC 8628 §5.4: the
        person confirms that the device asking is theirs): answer yes, wait for the result."""
        page = self.page
        page.click("[name=accept]")
        page.wait_for_load_state()

    def error_text(self) -> str:
        """The message Keycloak shows on the current page (wrong password, locked, …)."""
        found = self.page.locator("#input-error, .alert-error, .pf-m-danger, .kc-feedback-text")
        return " ".join(found.all_inner_texts())
