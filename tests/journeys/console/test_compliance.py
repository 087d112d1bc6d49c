# ruff: noqa: RUF001 - Chinese text takes Chinese (full-width) punctuation
"""The compliance journey done through the console (issue 19; the API's version is
tests/journeys/test_compliance_journey.py), in Debian's Chromium on the seeded demo platform.

demo-compliance starts a run, reads the clause table (evidence written for people: no Python
reprs), requests a waiver with a justification and an expiry, signs the run off after step-up
(OTP, then Continue on the resume page), downloads the signed PDF and sees its signature
verified. demo-auditor reads the same runs without any control that changes them and downloads
a report; demo-developer has no compliance menu and is refused the page.

Tests share one platform and may run in any order: each starts the run it needs and names its
waiver uniquely.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
import zoneinfo
from pathlib import Path

from playwright.sync_api import Page, expect

from anbao.demo import data
from tests.integration.iam.realm_support import admin_for
from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.offline import only_origin
from tests.journeys.console.platform import ConsolePlatform

OFFICER, AUDITOR, DEVELOPER = "demo-compliance", "demo-auditor", "demo-developer"
MLPS = "GB/T 22239-2019"
#: A typed expiry far from any day the tests run (the tests never depend on today's date).
#: A waiver's expiry, typed in the console's zone: thirty days from today, whatever today is.
_EXPIRES = (dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=30)).replace(
    hour=18, minute=0, second=0, microsecond=0
)
EXPIRY = _EXPIRES.strftime("%Y-%m-%dT%H:%M")
EXPIRY_SHOWN = _EXPIRES.strftime("%Y-%m-%d %H:%M UTC+08:00")


def _start_run(console: ConsolePlatform, page: Page, framework: str = "") -> str:
    """As the officer: start a run from the runs view; the run's id from the page it opens."""
    page.goto(console.base + "/console/compliance")
    if framework:
        page.get_by_label("先查看的标准").select_option(value=framework)
    page.get_by_role("button", name="立即运行检查").click()
    page.wait_for_url(re.compile(r".*/console/compliance/runs/[^/?]+\?.*"))
    expect(page.get_by_role("status").filter(has_text="检查已完成")).to_be_visible()
    return page.url.split("/runs/")[1].split("?")[0]


def _download(page: Page, link: str) -> bytes:
    with page.expect_download() as event:
        page.get_by_role("link", name=link).click()
    return Path(event.value.path()).read_bytes()


def test_an_officer_runs_reads_the_evidence_waives_signs_off_and_verifies_the_report(
    console: ConsolePlatform,
) -> None:
    page = console.page(OFFICER, "/console/compliance")
    with only_origin(page, console.base):
        expect(page.get_by_role("heading", level=1)).to_have_text("合规")
        assert_accessible(page)
        _start_run(console, page)  # the frameworks are known from a run's report onwards
        run_id = _start_run(console, page, MLPS)
        _reads_the_clause_table(page)
        _requests_a_waiver(console, page)
        page.goto(f"{console.base}/console/compliance/runs/{run_id}")
        page.get_by_label("审核意见", exact=True).fill("季度等保自查 已复核")
    # Sign-off is sensitive: step-up at Keycloak (its own origin), then back to the console.
    page.get_by_role("button", name="签署本次检查").click()
    console.step_up(page, OFFICER)
    with only_origin(page, console.base):
        _continues_and_sees_the_signature_verified(page, run_id)
        pdf = _download(page, "已签名报告（PDF）")
        assert pdf.startswith(b"%PDF")
        html = _download(page, "报告（HTML）")
        assert b"<html" in html.lower()
        _sees_the_run_and_the_trend(console, page, run_id)


def _reads_the_clause_table(page: Page) -> None:
    """The run opens at the framework chosen; evidence is written for people."""
    headings = page.locator("section[aria-labelledby=clauses-title] h3").all_inner_texts()
    assert len(headings) == 1
    assert headings[0].startswith(MLPS)
    item = page.locator("table.clauses tr#control-L3-CES1-02")
    expect(item).to_contain_text("8.1.4.1 b)")
    expect(item).to_contain_text("bruteForceProtected")
    expect(page.get_by_role("button", name="签署本次检查")).to_be_visible()
    text = page.locator("main").inner_text()
    for repr_mark in ("{'", "['", "True", "False", "None"):
        assert repr_mark not in text, repr_mark
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\+08:00", text)
    assert_accessible(page)
    page.get_by_label("标准", exact=True).select_option(value="all")
    page.get_by_role("button", name="显示").click()
    expect(page.locator("section[aria-labelledby=clauses-title] h3")).to_have_count(3)


def _requests_a_waiver(console: ConsolePlatform, page: Page) -> None:
    """A justification and a typed expiry (local time); a second officer must decide."""
    reason = f"补偿措施：堡垒机双人复核 {uuid.uuid4().hex[:8]}"
    page.goto(console.base + "/console/compliance/waivers?control=L3-CES1-02")
    assert_accessible(page)
    expect(page.get_by_label("控制项", exact=True)).to_have_value("L3-CES1-02")
    page.get_by_label("理由", exact=True).fill(reason)
    page.get_by_label(re.compile("到期时间")).fill(EXPIRY)
    page.get_by_role("button", name="提交豁免申请").click()
    page.wait_for_url("**/console/compliance/waivers?done=requested")
    row = page.locator("table.waivers tbody tr").filter(has_text=reason)
    expect(row).to_contain_text("待审批")
    expect(row).to_contain_text(EXPIRY_SHOWN)
    expect(row).to_contain_text(OFFICER)
    expect(row).to_contain_text("需由另一名合规官审批")  # four eyes: not their own
    assert_accessible(page)


def _continues_and_sees_the_signature_verified(page: Page, run_id: str) -> None:
    """Back from step-up: Continue on the resume page signs off; the signature is checked."""
    page.wait_for_url("**/console/resume")
    expect(page.get_by_text("签署合规检查")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="继续").click()
    page.wait_for_url(re.compile(rf".*/console/compliance/runs/{run_id}\?signed=1.*"))
    signature = page.locator("#signature")
    expect(signature).to_contain_text("签名验证通过")
    expect(signature).to_contain_text(OFFICER)
    expect(signature).to_contain_text("SM2")
    expect(signature).to_contain_text("季度等保自查 已复核")
    expect(page.get_by_role("button", name="签署本次检查")).to_have_count(0)
    assert_accessible(page)


def _sees_the_run_and_the_trend(console: ConsolePlatform, page: Page, run_id: str) -> None:
    page.goto(console.base + "/console/compliance")
    row = page.locator("table.runs tbody tr").filter(has=page.locator(f"a[href$='/runs/{run_id}']"))
    expect(row).to_contain_text(f"已由 {OFFICER} 签署")
    expect(row).to_contain_text("%")
    expect(page.locator("[data-chart=trend-option] canvas")).to_have_count(1)
    page.get_by_text("以表格查看趋势").click()
    expect(page.locator("details.chart-data table")).to_be_visible()
    assert_accessible(page)


def test_a_second_officer_approves_a_waiver_after_step_up_and_rejects_another(
    console: ConsolePlatform,
) -> None:
    """Four eyes: demo-compliance requests two waivers; another officer approves one after
    step-up and rejects the other with a reason."""
    page = console.page(OFFICER, "/console/compliance")
    _start_run(console, page)  # the waiver form lists the controls of the newest run's report
    tag = uuid.uuid4().hex[:8]
    for control in ("L3-CES1-03", "L3-CES1-04"):
        page.goto(f"{console.base}/console/compliance/waivers?control={control}")
        page.get_by_label("理由", exact=True).fill(f"四眼审批 {control} {tag}")
        page.get_by_label(re.compile("到期时间")).fill(EXPIRY)
        page.get_by_role("button", name="提交豁免申请").click()
        page.wait_for_url("**/console/compliance/waivers?done=requested")

    second_name = _second_officer(console)
    second = console.page(second_name, "/console/compliance/waivers")
    approve = second.locator("table.waivers tbody tr").filter(has_text=f"L3-CES1-03 {tag}")
    approve.get_by_role("button", name="批准").click()
    console.step_up(second, second_name)
    with only_origin(second, console.base):
        second.wait_for_url("**/console/resume")
        expect(second.get_by_text("审批豁免")).to_be_visible()
        second.get_by_role("button", name="继续").click()
        second.wait_for_url("**/console/compliance/waivers?done=approve")
        row = second.locator("table.waivers tbody tr").filter(has_text=f"L3-CES1-03 {tag}")
        expect(row).to_contain_text("已批准")
        expect(row).to_contain_text(second_name)
        assert_accessible(second)
        # Stepped up already: rejecting asks no second code.
        row = second.locator("table.waivers tbody tr").filter(has_text=f"L3-CES1-04 {tag}")
        row.get_by_label("驳回原因").fill("补偿措施不足")
        row.get_by_role("button", name="驳回").click()
        second.wait_for_url("**/console/compliance/waivers?done=reject")
        row = second.locator("table.waivers tbody tr").filter(has_text=f"L3-CES1-04 {tag}")
        expect(row).to_contain_text("已驳回")
        expect(row).to_contain_text("补偿措施不足")


def _second_officer(console: ConsolePlatform) -> str:
    """Another compliance officer bound where demo-compliance is (the seed's attributes,
    groups, password and authenticator): the person who may decide demo-compliance's waivers."""
    admin = admin_for(console.keycloak)
    admin.change_current_realm(console.realm)
    officer_id = admin.get_user_id(OFFICER)
    assert officer_id, "the seed makes demo-compliance"
    model = admin.get_user(officer_id)
    username = f"demo-compliance-{uuid.uuid4().hex[:6]}"
    uid = admin.create_user({
        "username": username, "enabled": True, "email": f"{username}@example.test",
        "emailVerified": True, "firstName": "复核", "lastName": model.get("lastName", "孙"),
        "attributes": model.get("attributes") or {},
        "credentials": [{"type": "password", "value": data.PASSWORD, "temporary": False}],
    })  # fmt: skip
    user = admin.get_user(uid)
    user["credentials"] = [{
        "type": "otp", "userLabel": "second officer",
        "secretData": json.dumps({"value": data.OTP_SECRET}),
        "credentialData": json.dumps({"subType": "totp", "digits": 6, "counter": 0,
                                      "period": 30, "algorithm": "HmacSHA1"}),
    }]  # fmt: skip
    admin.update_user(uid, user)
    admin.assign_realm_roles(uid, [admin.get_realm_role("compliance-officer")])
    for group in admin.get_user_groups(model["id"]):
        admin.group_user_add(uid, group["id"])
    return username


def test_an_auditor_reads_runs_and_downloads_a_report_but_changes_nothing(
    console: ConsolePlatform,
) -> None:
    run_id = _start_run(console, console.page(OFFICER, "/console/compliance"))
    page = console.page(AUDITOR, "/console/compliance")
    with only_origin(page, console.base):
        expect(page.get_by_role("link", name="合规")).to_be_visible()
        expect(page.locator(f"table.runs a[href$='/runs/{run_id}']")).to_be_visible()
        expect(page.get_by_role("button", name="立即运行检查")).to_have_count(0)
        assert_accessible(page)

        page.locator(f"table.runs a[href$='/runs/{run_id}']").click()
        page.wait_for_url(f"**/console/compliance/runs/{run_id}")
        expect(page.locator("table.clauses").first).to_be_visible()
        expect(page.get_by_role("button", name="签署本次检查")).to_have_count(0)
        expect(page.get_by_role("link", name="申请豁免")).to_have_count(0)
        assert_accessible(page)
        pdf = _download(page, "报告草稿（PDF）")
        assert pdf.startswith(b"%PDF")

        # English on request (and back: the tests share the auditor's browser).
        page.get_by_role("link", name="English").click()
        page.wait_for_url(f"**/console/compliance/runs/{run_id}")
        expect(page.locator("#summary-title")).to_have_text("Summary")
        expect(page.locator("#clauses-title")).to_have_text("Clause by clause")
        assert_accessible(page)
        page.get_by_role("link", name="中文").click()
        expect(page.locator("#summary-title")).to_have_text("概要")

        page.goto(console.base + "/console/compliance/waivers")
        expect(page.get_by_role("button", name="提交豁免申请")).to_have_count(0)
        expect(page.get_by_role("button", name="批准")).to_have_count(0)
        assert_accessible(page)

        # The server refuses what the page leaves out.
        csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
        for path in ("/console/compliance/runs", f"/console/compliance/runs/{run_id}/signoff"):
            answer = page.request.post(console.base + path, form={"csrf": csrf})
            assert answer.status == 403, (path, answer.status)


def test_a_developer_has_no_compliance_menu_and_is_refused_the_page(
    console: ConsolePlatform,
) -> None:
    page = console.page(DEVELOPER)
    with only_origin(page, console.base):
        assert "合规" not in page.locator("nav[aria-label] a").all_inner_texts()
        answer = page.goto(console.base + "/console/compliance")
        assert answer is not None
        assert answer.status == 403
        assert_accessible(page)
        report = page.request.get(console.base + "/console/compliance/runs/x/report.pdf")
        assert report.status == 403
