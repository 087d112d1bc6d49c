"""Signing in to the console and out again (issue 19, part 2), in Debian's Chromium.

The browser never holds a token: only the HttpOnly session cookie; the menu shows what the
person's roles allow and the server refuses the rest; sign-out ends the Keycloak session too.
"""

from __future__ import annotations

from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.offline import only_origin
from tests.journeys.console.platform import ConsolePlatform


def test_an_analyst_signs_in_sees_their_menu_only_and_signs_out_of_keycloak_too(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-analyst")
    assert page.url.startswith(console.base + "/console/")
    with only_origin(page, console.base):  # everything the page needs comes from Anbao
        page.reload()
        page.wait_for_load_state("networkidle")
    assert_accessible(page)
    menu = page.locator("nav[aria-label] a").all_inner_texts()
    assert menu == ["总览", "审计检索", "告警"]
    cookies = {c["name"]: c for c in page.context.cookies(console.base)}
    session = cookies["anbao-console"]
    assert session["httpOnly"]
    assert session["sameSite"] == "Strict"
    assert not any("eyJ" in c["value"] for c in cookies.values())  # no JWT in the browser
    # The server refuses what the menu leaves out.
    answer = page.goto(console.base + "/console/orgs")
    assert answer is not None
    assert answer.status == 403
    page.goto(console.base + "/console/")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(console.base + "/console/signed-out")
    assert_accessible(page)
    # Keycloak's session ended: the console sends the person to the password page again.
    page.goto(console.base + "/console/")
    page.wait_for_selector("#password")
    page.context.clear_cookies()


def test_a_change_without_the_csrf_token_is_refused(console: ConsolePlatform) -> None:
    page = console.page("demo-auditor")
    answer = page.request.post(console.base + "/console/logout", form={"csrf": "wrong"})
    assert answer.status == 403
    assert page.request.get(console.base + "/console/").status == 200  # still signed in
