"""Every console page, as every persona, in Debian's Chromium (issue 19, "Quality").

Each person opens each page of their menu: it answers, has its heading, requests nothing from
another origin (the offline government network) and passes axe-core with no serious or critical
violation; the pages outside their menu are refused by the server (403), not only hidden. The
same run writes docs/console.md's screenshots at 1440x900 when ``ANBAO_SCREENSHOTS`` names a
folder (``make console-screenshots``); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.offline import only_origin
from tests.journeys.console.platform import ConsolePlatform

#: Every signed-in page of the console (the menu's order) and its screenshot's name.
PAGES = {
    "/console/": "overview",
    "/console/audit": "audit-search",
    "/console/alerts": "alerts",
    "/console/orgs": "org-tree",
    "/console/apps": "apps",
    "/console/seals": "seals",
    "/console/compliance": "compliance",
}
#: Who may open which page (anbao/console/web.py MENU); everyone else gets 403.
MENUS = {
    "demo-admin": {"/console/", "/console/orgs", "/console/apps", "/console/seals"},
    "demo-org-admin": {"/console/", "/console/orgs", "/console/seals"},
    "demo-analyst": {"/console/", "/console/audit", "/console/alerts"},
    "demo-auditor": {"/console/", "/console/audit", "/console/compliance"},
    "demo-compliance": {"/console/", "/console/compliance"},
    "demo-seal-admin": {"/console/", "/console/seals"},
    "demo-seal-user": {"/console/", "/console/seals"},
    "demo-developer": {"/console/", "/console/apps"},
}
#: The persona whose view of each page docs/console.md shows.
SHOWN_BY = {
    "/console/": "demo-analyst",
    "/console/audit": "demo-analyst",
    "/console/alerts": "demo-analyst",
    "/console/orgs": "demo-admin",
    "/console/apps": "demo-developer",
    "/console/seals": "demo-seal-admin",
    "/console/compliance": "demo-compliance",
}


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ANBAO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("username", sorted(MENUS))
def test_each_person_opens_every_page_of_their_menu_and_is_refused_the_others(
    console: ConsolePlatform, username: str, tmp_path: Path
) -> None:
    page = console.page(username)
    menu = {link.get_attribute("href") for link in page.locator("nav[aria-label] a").all()}
    assert menu == MENUS[username]
    for path, name in PAGES.items():
        if path not in MENUS[username]:
            refused = page.request.get(console.base + path, max_redirects=0)
            assert refused.status == 403, (username, path)
            continue
        with only_origin(page, console.base):
            answer = page.goto(console.base + path)
            assert answer is not None
            assert answer.status == 200, (username, path)
            page.wait_for_load_state("networkidle")
        assert page.locator("h1").count() == 1, (username, path)
        assert_accessible(page)
        if SHOWN_BY[path] == username:
            page.screenshot(path=str(shots(tmp_path) / f"{name}.png"))
    page.close()


def test_the_public_verification_page_needs_no_sign_in(
    console: ConsolePlatform, tmp_path: Path
) -> None:
    page = console.anonymous("/console/verify")
    with only_origin(page, console.base):
        page.reload()
        page.wait_for_load_state("networkidle")
    assert page.url == console.base + "/console/verify"
    assert page.locator("h1").count() == 1
    assert_accessible(page)
    page.screenshot(path=str(shots(tmp_path) / "seal-verify.png"))
    page.context.close()


def test_the_console_speaks_english_on_request(console: ConsolePlatform) -> None:
    page = console.page("demo-auditor")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Audit search" in page.locator("nav[aria-label]").inner_text()
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.close()
