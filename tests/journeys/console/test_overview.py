"""The overview (issue 19, pages by role): each person sees the panels their roles can read.

Charts are drawn by ECharts into a canvas; each has its figures as a table beside it (a
screen reader's alternative) and a summary as the chart's accessible name.
"""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Page

from anbao.demo import data
from tests.integration.iam.realm_support import CONSOLE, BrowserlessLogin
from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.platform import ConsolePlatform

PANELS = {
    "alerts": "按严重程度统计的未处理告警",
    "audit": "审计量（最近 7 天）",  # noqa: RUF001 - Chinese punctuation
    "compliance": "各标准最近一次合规结果",
    "seals": "按状态统计的印章",
    "health": "Keycloak 与各存储的健康状况",
}


def panels(page: Page) -> list[str]:
    ids = page.locator("section.panel[id^=panel-]").evaluate_all("els => els.map(e => e.id)")
    return [str(i).removeprefix("panel-") for i in ids]


def assert_charted(page: Page, key: str) -> None:
    """The panel's chart is drawn (a canvas), named by its summary, with its table beside it."""
    panel = page.locator(f"#panel-{key}")
    panel.locator("[data-chart] canvas").first.wait_for()
    assert panel.get_by_role("heading", level=2).inner_text() == PANELS[key]
    name = panel.locator("[data-chart]").get_attribute("aria-label") or ""
    assert name.endswith("。"), name
    panel.locator("details summary").click()
    table = panel.get_by_role("table")
    assert table.locator("tbody tr").count() > 0
    assert table.locator("th[scope=col]").count() >= 2


def test_an_analyst_sees_alerts_audit_volume_and_health_as_charts(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-analyst")
    assert panels(page) == ["alerts", "audit", "health"]
    for key in ("alerts", "audit", "health"):
        assert_charted(page, key)
    health = page.locator("#panel-health table").inner_text()
    assert "Keycloak 身份认证" in health
    assert "正常" in health or "up" in health
    assert_accessible(page)


def compliance_run(console: ConsolePlatform) -> None:
    """The compliance officer runs the checks through the API (the compliance page is another
    journey's): signed in at Keycloak's pages with the demo password and authenticator."""
    login = BrowserlessLogin(console.keycloak.url, console.realm, CONSOLE)
    try:
        page = login.submit(
            login.start(), "kc-form-login", username="demo-compliance", password=data.PASSWORD
        )
        if login.code is None:
            login.submit(page, None, otp=data.otp_code(time.time()))
        assert login.code, page.title()
        token = login.tokens()["access_token"]
    finally:
        login.close()
    ran = httpx.post(
        console.base + "/compliance/runs", headers={"Authorization": f"Bearer {token}"}, timeout=120
    )
    assert ran.status_code == 201, ran.text


def test_an_auditor_sees_the_last_compliance_result_per_framework(
    console: ConsolePlatform,
) -> None:
    compliance_run(console)
    page = console.page("demo-auditor")
    assert panels(page) == ["audit", "compliance", "health"]
    assert_charted(page, "compliance")
    assert "GB/T 22239" in page.locator("#panel-compliance table").inner_text()
    assert_accessible(page)


def test_seal_people_see_seals_by_state_and_a_developer_only_health(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-org-admin")
    assert panels(page) == ["seals", "health"]
    seals = page.locator("#panel-seals")
    # The demo platform has no seal yet: no ring to draw, the table (open) says so per state.
    rows = seals.get_by_role("table").locator("tbody tr").all_inner_texts()
    assert [r.split("\t")[0] for r in rows][:4] == ["已申请", "已批准", "已制作", "已启用"]
    assert "共 0 枚印章" in seals.inner_text()
    developer = console.page("demo-developer")
    assert panels(developer) == ["health"]
    assert_accessible(developer)


def test_the_overview_in_english(console: ConsolePlatform) -> None:
    page = console.page("demo-analyst")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert page.locator("#panel-alerts h2").inner_text() == "Open alerts by severity"
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
