# ruff: noqa: RUF001 - the pages speak Chinese: full-width punctuation is what people read
"""The app developer's journey done through the console (issue 19; the API version is in
tests/integration/iam/apps), in Debian's Chromium.

demo-developer registers an app, copies its secret (shown once: a reload does not show it
again), adds a role and gives it to a person after the OTP step-up, rotates the secret and reads
the integration snippet; Keycloak's token endpoint takes the new secret and refuses the old one.
An analyst has neither the menu entry nor the page.
"""

from __future__ import annotations

import secrets

import httpx
from playwright.sync_api import expect

from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.platform import ConsolePlatform


def _token(console: ConsolePlatform, client_id: str, secret: str) -> httpx.Response:
    """Client credentials at the realm's token endpoint (RFC 6749 §4.4)."""
    url = f"{console.keycloak.url}/realms/{console.realm}/protocol/openid-connect/token"
    return httpx.post(
        url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=30
    )


def test_a_developer_registers_an_app_and_runs_it(console: ConsolePlatform) -> None:
    client_id = f"permits-{secrets.token_hex(4)}"
    page = console.page("demo-developer", "/console/apps")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.base)
    expect(page.get_by_role("heading", level=1)).to_have_text("应用")
    assert_accessible(page)

    form = page.get_by_role("region", name="注册应用")
    form.get_by_label("客户端 ID").fill(client_id)
    form.get_by_label("名称").fill("行政许可")
    form.get_by_label("机器对机器访问").check()
    form.get_by_label("重定向 URI（每行一个）").fill("https://permits.example.gov.cn/callback")
    form.get_by_label("应用角色").fill("clerk")
    form.get_by_role("button", name="注册").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(client_id)
    secret = page.locator("#client-secret").inner_text()
    assert len(secret) >= 16
    page.get_by_role("button", name="复制密钥").click()
    expect(page.get_by_role("button", name="已复制")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert_accessible(page)
    page.reload()  # shown once: the session forgot it
    expect(page.locator("#client-secret")).to_have_count(0)
    assert secret not in page.content()
    assert _token(console, client_id, secret).status_code == 200

    page.get_by_label("新角色名称").fill("approver")
    page.get_by_role("button", name="添加角色").click()
    expect(page.get_by_role("status")).to_contain_text("角色已添加")
    give = page.locator("form").filter(has=page.get_by_label("将“approver”授予（用户名）"))
    give.get_by_label("将“approver”授予（用户名）").fill("demo-auditor")
    give.get_by_role("button", name="授予（需要第二因素）").click()
    console.step_up(page, "demo-developer")
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_role("status")).to_contain_text("角色已授予")
    roles = page.get_by_role("region", name="应用角色及其持有人")
    expect(roles).to_contain_text("demo-auditor")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="轮换密钥").click()
    expect(page.get_by_role("status").filter(has_text="密钥已轮换")).to_be_visible()
    rotated = page.locator("#client-secret").inner_text()
    assert rotated != secret
    assert _token(console, client_id, rotated).status_code == 200
    assert _token(console, client_id, secret).status_code == 401

    snippet = page.locator("#snippet-python").inner_text()
    assert f'"{client_id}"' in snippet
    assert f"/realms/{console.realm}/.well-known/openid-configuration" in snippet
    assert 'code_challenge_method="S256"' in snippet
    curl = page.locator("#snippet-curl").inner_text()
    assert "grant_type=client_credentials" in curl
    assert rotated not in snippet + curl  # the snippet never holds the secret
    assert_accessible(page)
    page.close()


def test_an_analyst_has_no_apps(console: ConsolePlatform) -> None:
    page = console.page("demo-analyst")
    menu = page.get_by_role("navigation", name="主菜单")
    expect(menu.get_by_role("link", name="应用")).to_have_count(0)
    answer = page.goto(console.base + "/console/apps")
    assert answer is not None
    assert answer.status == 403
    page.close()
