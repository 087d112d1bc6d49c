"""The analysts' journey through the console (issue 19): alerts raised for real, triaged in
Chromium, and a response action decided with four eyes.

Someone types wrong passwords for a clerk on Keycloak's login page; ``anbao serve`` pulls the
failures and the lockout into the trail and its detections raise alerts naming the clerk. The
demo analyst filters the queue to the clerk, acknowledges and assigns the alerts in bulk, adds a
note, opens the evidence, and asks to end the clerk's sessions (second factor first, then the
resume page's Continue). Their own approval is refused with the API's reason; a second analyst —
a new person given a province-wide analyst scope through ``/siem/analysts`` by the platform
admin — approves, and the page names who requested and who approved. A developer has no Alerts
entry and is refused the page.

Set-up the platform has no interface for goes to Keycloak's admin API (the clerk, the second
analyst's password and authenticator: as ``anbao dev seed`` does for the demo people).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from anbao.demo import data
from tests.integration.iam.realm_support import (
    CONSOLE,
    BrowserlessLogin,
    add_user,
    admin_for,
    unique,
)
from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.offline import only_origin
from tests.journeys.console.platform import ConsolePlatform

#: Seconds from the failures at Keycloak to the alerts in the console.
ALERT_DEADLINE = 90
#: Wrong passwords typed: past the realm's brute-force failure factor (5) and the brute-force
#: rule's ten failures in five minutes (siem/rules/authentication.yml).
ATTEMPTS = 11
LOCKOUT = "账号被 Keycloak 暴力破解防护锁定"
BRUTE_FORCE = "针对单一账号的暴力破解"


def _failed_sign_ins(console: ConsolePlatform, username: str) -> None:
    for attempt in range(ATTEMPTS):
        login = BrowserlessLogin(console.keycloak.url, console.realm, CONSOLE)
        try:
            login.submit(
                login.start(), "kc-form-login", username=username, password=f"Guess-{attempt}!"
            )
        finally:
            login.close()


def _token(console: ConsolePlatform, username: str) -> str:
    """A demo person's access token (password, then the OTP prompt administrators get)."""
    login = BrowserlessLogin(console.keycloak.url, console.realm, CONSOLE)
    try:
        page = login.submit(
            login.start(), "kc-form-login", username=username, password=data.PASSWORD
        )
        if login.code is None:
            login.submit(page, None, otp=console.person(username).otp())
        return str(login.tokens()["access_token"])
    finally:
        login.close()


def _second_analyst(console: ConsolePlatform) -> str:
    """A new person with the demo people's password and authenticator, made a province-wide
    analyst by the platform admin through Anbao's API."""
    admin = admin_for(console.keycloak)
    username = unique("analyst")
    otp = {
        "type": "otp",
        "userLabel": "journey",
        "secretData": json.dumps({"value": data.OTP_SECRET}),
        "credentialData": json.dumps(
            {"subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1"}
        ),
    }
    password = {"type": "password", "value": data.PASSWORD, "temporary": False}
    person_id = add_user(admin, console.realm, username, credentials=[password, otp])
    granted = httpx.put(
        f"{console.base}/siem/analysts/{person_id}",
        json={"province_wide": True},
        headers={"Authorization": f"Bearer {_token(console, 'demo-admin')}"},
        timeout=60,
    )
    assert granted.status_code == 200, granted.text
    return username


def _until(page: Page, url: str, ready: Callable[[Page], bool]) -> None:
    deadline = time.monotonic() + ALERT_DEADLINE
    while time.monotonic() < deadline:
        page.goto(url)
        if ready(page):
            return
        time.sleep(1)
    shown = page.url + "\n" + page.content()[:3000]
    raise AssertionError(f"not ready within {ALERT_DEADLINE} s: {url}\n{shown}")


def _rows(page: Page) -> list[str]:
    return page.locator("table.alerts tbody tr").all_inner_texts()


def test_an_analyst_triages_alerts_and_a_second_analyst_approves_the_response(
    console: ConsolePlatform,
) -> None:
    clerk = unique("clerk")
    add_user(admin_for(console.keycloak), console.realm, clerk)
    second = _second_analyst(console)
    _failed_sign_ins(console, clerk)

    page = console.page("demo-analyst", "/console/alerts")
    assert page.locator("nav[aria-label] a", has_text="告警").count() == 1
    with only_origin(page, console.base):
        page.reload()
        page.wait_for_load_state("networkidle")
    assert_accessible(page)
    _filter_and_triage_in_bulk(page, clerk)
    alert_url = _note_and_evidence(page, clerk)
    _request_ending_the_sessions(console, page, alert_url)
    _own_approval_refused(page)
    other = _second_analyst_approves(console, second, clerk, alert_url)
    _second_analyst_rejects(page, other, second, alert_url)

    page.goto(alert_url)
    ended = page.locator("table.actions tbody tr", has_text="结束会话")
    expect(ended.locator("td.decider")).to_contain_text(second)
    page.close()
    other.close()


def _apply_filters(page: Page) -> None:
    page.get_by_role("button", name="筛选", exact=True).click()
    page.wait_for_load_state()


def _filter_and_triage_in_bulk(page: Page, clerk: str) -> None:
    """The queue, filtered to the clerk, fills with the lockout and the brute force; both are
    acknowledged, then assigned, in bulk."""
    page.fill("#f-entity", f"user.name={clerk}")
    _apply_filters(page)
    filtered = page.url
    assert "entity=user.name" in filtered

    def both(p: Page) -> bool:
        rows = " ".join(_rows(p))
        return LOCKOUT in rows and BRUTE_FORCE in rows

    _until(page, filtered, both)
    assert len(_rows(page)) == 2
    page.locator("input[name=severity_high]").check()  # only the brute force is high
    _apply_filters(page)
    assert [BRUTE_FORCE in row for row in _rows(page)] == [True]
    page.goto(filtered)

    page.locator("[data-check-all=id]").check()
    assert page.locator("input[name=id]:checked").count() == 2
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已确认 2 条告警")
    assert all("已确认" in row for row in _rows(page))
    page.locator("[data-check-all=id]").check()
    page.fill("#b-assignee", "demo-analyst")
    page.get_by_role("button", name="分派", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已分派 2 条告警")
    page.fill("#f-assignee", "demo-analyst")
    _apply_filters(page)
    assert len(_rows(page)) == 2
    assert_accessible(page)


def _note_and_evidence(page: Page, clerk: str) -> str:
    """The lockout alert: a note kept with its author, links to its audit events."""
    page.get_by_role("link", name=LOCKOUT).click()
    page.wait_for_load_state()
    alert_url = page.url
    assert re.search(r"/console/alerts/[0-9a-f]{32}$", alert_url), alert_url
    note = f"锁定来自多次错误口令; 已联系 {clerk} 本人核实。"
    page.fill("#n-text", note)
    page.get_by_role("button", name="添加备注").click()
    expect(page.get_by_role("status")).to_contain_text("备注已添加")
    expect(page.locator("ol.notes")).to_contain_text(note)
    expect(page.locator("ol.notes")).to_contain_text("demo-analyst")
    evidence = page.locator("#evidence-title ~ table a")
    assert evidence.count() >= 1
    for href in evidence.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert href.startswith("/console/audit?q=event.id"), href
    every = page.get_by_role("link", name="在审计检索中全部打开").get_attribute("href") or ""
    assert every.startswith("/console/audit?q="), every
    assert_accessible(page)
    return alert_url


def _request_ending_the_sessions(console: ConsolePlatform, page: Page, alert_url: str) -> None:
    """Second factor first, then the resume page's Continue sends the request."""
    page.select_option("#r-kind", "end_sessions")
    page.get_by_role("button", name="提交申请").click()
    console.step_up(page, "demo-analyst")
    expect(page.locator("main")).to_contain_text("申请响应处置")  # the resume page's action
    page.get_by_role("button", name="继续").click()
    page.wait_for_url(alert_url + "?done=requested")
    expect(page.get_by_role("status")).to_contain_text("须由另一名分析员批准")
    row = page.locator("table.actions tbody tr").first
    expect(row).to_contain_text("待审批")
    expect(row.locator("td.requester")).to_contain_text("demo-analyst")


def _own_approval_refused(page: Page) -> None:
    """Four eyes: the requester's own approval is refused, with the API's reason."""
    page.locator("table.actions tbody tr").first.get_by_role("button", name="批准").click()
    page.wait_for_load_state()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("申请人不能审批自己的申请")
    expect(refusal).to_contain_text("response_self_approval")
    expect(page.locator("table.actions tbody tr").first).to_contain_text("待审批")


def _second_analyst_approves(
    console: ConsolePlatform, second: str, clerk: str, alert_url: str
) -> Page:
    """The second analyst finds the action waiting and approves it after their own second
    factor; the page names who requested and who approved."""
    other = console.page(second, "/console/alerts")
    expect(other.locator("#pending-title + table")).to_contain_text(clerk)
    other.goto(alert_url)
    other.locator("table.actions tbody tr").first.get_by_role("button", name="批准").click()
    console.step_up(other, second)
    other.get_by_role("button", name="继续").click()
    other.wait_for_url(alert_url + "?done=approved")
    expect(other.get_by_role("status")).to_contain_text("响应处置已批准并执行")
    done = other.locator("table.actions tbody tr").first
    expect(done).to_contain_text("已执行")
    expect(done.locator("td.requester")).to_contain_text("demo-analyst")
    expect(done.locator("td.decider")).to_contain_text(second)
    assert_accessible(other)
    return other


def _second_analyst_rejects(page: Page, other: Page, second: str, alert_url: str) -> None:
    """Another request (disable the clerk's account), rejected: a reason is needed, then kept
    with who rejected. Both are still at acr 2 from their step-ups: no second OTP."""
    page.goto(alert_url)
    page.select_option("#r-kind", "disable_user")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(alert_url + "?done=requested")
    other.goto(alert_url)
    pending = other.locator("table.actions tbody tr", has_text="待审批")
    pending.get_by_role("button", name="驳回").click()
    expect(other.get_by_role("alert")).to_contain_text("请填写驳回理由")
    reason = "停用账号影响办件, 先观察一天。"
    pending = other.locator("table.actions tbody tr", has_text="待审批")
    pending.locator("input[name=reason]").fill(reason)
    pending.get_by_role("button", name="驳回").click()
    other.wait_for_url(alert_url + "?done=rejected")
    rejected = other.locator("table.actions tbody tr", has_text="停用账号")
    expect(rejected).to_contain_text("已驳回")
    expect(rejected).to_contain_text(reason)
    expect(rejected.locator("td.requester")).to_contain_text("demo-analyst")
    expect(rejected.locator("td.decider")).to_contain_text(second)


def test_a_developer_has_no_alerts_page(console: ConsolePlatform) -> None:
    page = console.page("demo-developer", "/console/alerts")
    assert "告警" not in page.locator("nav[aria-label] a").all_inner_texts()
    answer = page.goto(console.base + "/console/alerts?status=open")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)
    refused = page.request.post(
        console.base + "/console/alerts/bulk", form={"csrf": "x", "op": "acknowledge"}
    )
    assert refused.status == 403
    page.close()
