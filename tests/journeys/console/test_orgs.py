# ruff: noqa: RUF001 - the pages speak Chinese: full-width punctuation is what people read
"""The org admins' journeys done through the console (issue 19; the API versions are in
tests/journeys/test_first_run.py and tests/integration/iam), in Debian's Chromium.

A platform admin browses the tree, finds a node by its code, imports a node file (the dry run
reports the bad row by row, column and reason; the good file is imported), invites a person and
grants them a role after the OTP step-up. An org-admin sees only the 五华区 subtree and the
API's refusal outside it, and delegates a township to a person they invite (step-up again).
An analyst has neither the menu entry nor the page.
"""

from __future__ import annotations

import secrets
import time

from playwright.sync_api import Page, expect

from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.platform import ConsolePlatform

COUNTY = "530102"  # 五华区 in the demo tree
TOWNSHIP = "530102001"  # 华山街道, below it


def fresh_otp_step(since: float) -> None:
    """Wait for a TOTP step after ``since`` (a moment after the sign-in's code was entered):
    Keycloak refuses a code a second time."""
    step = int(since // 30)
    while int(time.time() // 30) == step:
        time.sleep(1)


def _csv(*rows: str) -> dict[str, object]:
    text = "kind,code,name,parent_code\n" + "\n".join(rows) + "\n"
    return {"name": "nodes.csv", "mimeType": "text/csv", "buffer": text.encode()}


def test_an_admin_browses_searches_imports_invites_and_grants_after_step_up(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-admin", "/console/orgs")
    signed_in = time.time()  # after the sign-in's OTP code, whenever it was entered
    expect(page.get_by_role("heading", level=1)).to_have_text("组织机构")
    tree = page.get_by_role("navigation", name="组织机构")
    expect(tree.get_by_role("link", name="云南省")).to_be_visible()
    tree.locator("summary").first.click()  # htmx loads the province's children
    expect(tree.get_by_role("link", name="昆明市")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("按代码查找节点").fill(COUNTY)
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("region", name="搜索结果").get_by_role("link", name="五华区").click()
    expect(page.locator("#node-title")).to_contain_text("五华区")
    assert_accessible(page)
    _import_nodes(console, page)
    _invite_and_grant(console, page, signed_in)
    page.close()


def _import_nodes(console: ConsolePlatform, page: Page) -> None:
    """A file with one bad row is reported by row, column and reason (nothing written); the
    good file is checked, then imported, and its node is in the tree."""
    suffix = f"{secrets.randbelow(899) + 100}"
    good = f"township,{COUNTY}{suffix},测试街道{suffix},{COUNTY}"
    bad = f"township,530103{suffix},错位街道{suffix},{COUNTY}"  # not under 五华区's code
    page.goto(console.base + "/console/orgs/import")
    page.get_by_label("组织节点").check()
    page.get_by_label("CSV（UTF-8）或 XLSX 文件").set_input_files(_csv(good, bad))
    page.get_by_role("button", name="检查文件（试运行）").click()
    report = page.get_by_role("table", name="试运行报告: nodes.csv")
    expect(report).to_be_visible()
    row = report.locator("tbody tr").first
    expect(row.locator("td").nth(0)).to_have_text("3")
    expect(row.locator("td").nth(1)).to_have_text("code")
    expect(row.locator("td").nth(2)).to_contain_text("county")
    assert_accessible(page)

    page.get_by_label("CSV（UTF-8）或 XLSX 文件").set_input_files(_csv(good))
    page.get_by_role("button", name="检查文件（试运行）").click()
    expect(page.get_by_role("heading", name="试运行：没有问题")).to_be_visible()
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_role("heading", name="导入完成")).to_be_visible()
    expect(page.locator("#import-result")).to_contain_text("新建 1")
    page.goto(console.base + f"/console/orgs?q={COUNTY}{suffix}")
    found = page.get_by_role("region", name="搜索结果")
    expect(found.get_by_role("link", name=f"测试街道{suffix}")).to_be_visible()


def _invite_and_grant(console: ConsolePlatform, page: Page, signed_in: float) -> None:
    """Invite a person into 五华区, then grant them a role: the grant asks for step-up."""
    username = f"console-{secrets.token_hex(4)}"
    page.goto(console.base + f"/console/orgs?node={COUNTY}")
    invite = page.get_by_role("region", name="邀请人员")
    invite.get_by_label("用户名").fill(username)
    invite.get_by_label("姓", exact=True).fill("测")
    invite.get_by_label("名", exact=True).fill("试")
    invite.get_by_role("button", name="邀请").click()
    expect(page.get_by_role("status").filter(has_text=username)).to_contain_text("/activate/")
    page.get_by_role("row").filter(has_text=username).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(username)
    assert_accessible(page)
    roles = page.get_by_role("region", name="平台角色")
    roles.get_by_label("授予角色").select_option("auditor")
    fresh_otp_step(signed_in)
    roles.get_by_role("button", name="授予（需要第二因素）").click()
    console.step_up(page, "demo-admin")
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_role("status")).to_contain_text("角色已授予")
    expect(page.get_by_role("region", name="平台角色")).to_contain_text("auditor")


def test_an_org_admin_sees_only_their_subtree_and_the_apis_refusal_outside_it(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-org-admin", "/console/orgs")
    signed_in = time.time()
    tree = page.get_by_role("navigation", name="组织机构")
    expect(tree.get_by_role("link", name="五华区")).to_be_visible()
    expect(tree.get_by_role("link", name="云南省")).to_have_count(0)
    answer = page.goto(console.base + "/console/orgs?node=530100")  # 昆明市, above the binding
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text("No such org node.")
    expect(page.get_by_role("heading", name="昆明市")).to_have_count(0)
    assert_accessible(page)
    page.goto(console.base + "/console/orgs?q=530000")
    expect(page.get_by_role("region", name="搜索结果")).to_contain_text("在您管理的范围内没有找到")
    _delegate(console, page, signed_in)
    page.close()


def _delegate(console: ConsolePlatform, page: Page, signed_in: float) -> None:
    """The org-admin invites a person into 华山街道 and binds them as its administrator."""
    username = f"console-{secrets.token_hex(4)}"
    page.goto(console.base + f"/console/orgs?node={TOWNSHIP}")
    invite = page.get_by_role("region", name="邀请人员")
    invite.get_by_label("用户名").fill(username)
    invite.get_by_label("姓", exact=True).fill("代")
    invite.get_by_label("名", exact=True).fill("管")
    invite.get_by_role("button", name="邀请").click()
    expect(page.get_by_role("status").filter(has_text=username)).to_contain_text("/activate/")
    admins = page.get_by_role("region", name="授权管理员")
    admins.get_by_label("任命本节点的组织管理员").fill(username)
    fresh_otp_step(signed_in)
    admins.get_by_role("button", name="绑定（需要第二因素）").click()
    console.step_up(page, "demo-org-admin")
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_role("status")).to_contain_text("管理员已绑定到本节点")
    expect(page.get_by_role("region", name="授权管理员")).to_contain_text(username)


def test_an_analyst_has_no_org_tree(console: ConsolePlatform) -> None:
    page = console.page("demo-analyst")
    expect(
        page.get_by_role("navigation", name="主菜单").get_by_role("link", name="组织机构")
    ).to_have_count(0)
    answer = page.goto(console.base + "/console/orgs")
    assert answer is not None
    assert answer.status == 403
    page.close()
