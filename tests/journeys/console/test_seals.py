"""The seal journey of issue 17 done in the console (issue 19, Seals), in Debian's Chromium.

The org-admin of 五华区 applies for the 数据局's seal with the seed's picture and sees it before
sending; the seal admin approves it from the approval queue (after an OTP step-up) and makes
it; the org-admin activates it; the holder signs the seed's sample OFD — the console sends them
to Keycloak for the OTP step-up and brings them back with the document kept — and downloads
the signed OFD. Then a browser that never signed in verifies it on the public page: valid,
every check shown in Chinese, the stamped page drawn; a tampered copy shows the failing check
and why. The org-admin suspends, resumes and revokes the seal (revoking steps up too). An
analyst is refused the seals page. Every page passes axe-core.
"""

# ruff: noqa: RUF001 - the labels are the page's Chinese text, full-width punctuation included

from __future__ import annotations

import io
import re
import secrets
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from anbao.demo import data
from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.platform import ConsolePlatform

DEPARTMENT = next(n for n in data.NODES if n.kind == "department")
#: The checks of a signature in an OFD, as the verify page names them in Chinese.
SIGNATURE_CHECKS = (
    "签章数据结构",
    "签章时间",
    "制章人签名",
    "制章人证书链",
    "制章人证书撤销状态",
    "印章图片",
    "印章有效期",
    "签章人证书属于印章",
    "签章人证书链",
    "签章人证书撤销状态",
    "签章人签名",
    "文档杂凑值",
    "受保护文件",
    "印章文件",
    "时间戳",
)


#: When each person last may have typed an OTP code (sign-in or step-up), by username.
_OTP_AT: dict[str, float] = {}


def _open(console: ConsolePlatform, username: str, path: str) -> Page:
    """``console.page``, remembering when the person may have answered an OTP prompt."""
    page = console.page(username, path)
    _OTP_AT[username] = time.time()
    return page


def _step_up(console: ConsolePlatform, page: Page, username: str) -> None:
    """``console.step_up`` with a code of a later 30 s step than the person's last one:
    Keycloak refuses a TOTP code twice, and administrators typed one at sign-in."""
    last = _OTP_AT.get(username)
    if last is not None and time.time() // 30 <= last // 30:
        time.sleep(30 - time.time() % 30 + 0.5)
    console.step_up(page, username)
    _OTP_AT[username] = time.time()


def _image_drawn(page: Page, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0"))


def _apply(console: ConsolePlatform, name: str) -> str:
    page = _open(console, "demo-org-admin", "/console/seals")
    expect(page.get_by_role("heading", name="电子印章", level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_label("组织节点（代码或 ID）").fill(DEPARTMENT.code)
    page.get_by_label("单位名称").fill(DEPARTMENT.name)
    page.get_by_label("统一社会信用代码").fill(DEPARTMENT.code)
    page.get_by_label("印章名称").fill(name)
    page.get_by_label("持章人（用户名，以空格或逗号分隔）").fill("demo-seal-user")
    page.get_by_label("有效期（天）").fill("365")
    page.get_by_label("印章图片（PNG、JPG 或 SVG）").set_input_files(
        console.state / "demo" / "seal.png"
    )
    preview = page.get_by_role("img", name="所选印章图片的预览")
    expect(preview).to_be_visible()  # shown before anything is sent
    page.wait_for_function("document.getElementById('picture-preview').naturalWidth > 0")
    expect(page.locator("#picture-status")).to_contain_text("seal.png")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url("**/console/seals?done=apply*")
    expect(page.get_by_role("status").filter(has_text=name)).to_contain_text("已申请")
    (seal_id,) = parse_qs(urlsplit(page.url).query)["seal"]
    page.close()
    return seal_id


def _resume_after_step_up(console: ConsolePlatform, page: Page, username: str, action: str) -> None:
    """Keycloak's OTP prompt, then the console's resume page naming the action: send it."""
    _step_up(console, page, username)
    page.wait_for_url("**/console/resume")
    expect(page.get_by_text(action)).to_be_visible()
    page.get_by_role("button", name="继续").click()


def _approve_and_make(console: ConsolePlatform, name: str) -> None:
    page = _open(console, "demo-seal-admin", "/console/seals")
    queue = page.locator("section", has=page.get_by_role("heading", name="待审批队列"))
    queue.get_by_role("row").filter(has_text=name).get_by_role("button", name="批准").click()
    _resume_after_step_up(console, page, "demo-seal-admin", "批准印章申请")
    page.wait_for_url("**/console/seals?done=approve*")
    expect(page.get_by_role("status")).to_contain_text("已批准")
    assert_accessible(page)
    queue.get_by_role("row").filter(has_text=name).get_by_role("button", name="制作").click()
    page.wait_for_url("**/console/seals?done=make*")
    expect(page.get_by_role("status")).to_contain_text("已制作")
    page.close()


def _activate(console: ConsolePlatform, seal_id: str) -> None:
    page = _open(console, "demo-org-admin", f"/console/seals/{seal_id}")
    assert _image_drawn(page, ".seal-picture-made")  # the made seal's own picture
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("^启用")).click()
    page.wait_for_url(f"**/console/seals/{seal_id}?done=activate")
    expect(page.get_by_role("status")).to_contain_text("已启用")
    page.close()


def _sign(console: ConsolePlatform, seal_id: str, into: Path) -> Path:
    page = _open(console, "demo-seal-user", f"/console/seals/{seal_id}")
    assert_accessible(page)
    page.get_by_label("OFD 文档").set_input_files(console.state / "demo" / "samples" / "notice.ofd")
    page.get_by_role("button", name="签章并下载").click()
    _step_up(console, page, "demo-seal-user")  # the API asked for acr 2: OTP at Keycloak
    page.wait_for_url("**/console/resume")
    expect(page.get_by_text("使用印章对 OFD 文档签章")).to_be_visible()
    expect(page.get_by_text("notice.ofd")).to_be_visible()  # the upload was kept
    with page.expect_download() as download:
        page.get_by_role("button", name="继续").click()
    assert download.value.suggested_filename == "notice-signed.ofd"
    signed = into / "notice-signed.ofd"
    download.value.save_as(signed)
    page.close()
    return signed


def _verify(console: ConsolePlatform, document: Path) -> Page:
    page = console.anonymous("/console/verify")
    expect(page.get_by_role("heading", name="电子签章验证", level=1)).to_be_visible()
    page.get_by_label("OFD 文档或印章文件").set_input_files(document)
    page.get_by_role("button", name="验证", exact=True).click()
    page.wait_for_selector(".verdict")
    return page


def test_a_seal_is_applied_for_made_activated_signed_and_verified_in_the_console(
    console: ConsolePlatform, tmp_path: Path
) -> None:
    name = f"{DEPARTMENT.name}电子公章{secrets.token_hex(3)}"
    seal_id = _apply(console, name)
    _approve_and_make(console, name)
    _activate(console, seal_id)
    signed = _sign(console, seal_id, tmp_path)
    assert zipfile.is_zipfile(signed)

    page = _verify(console, signed)
    expect(page.locator(".verdict")).to_contain_text("有效")
    assert "无效" not in page.locator(".verdict").inner_text()
    rows = page.locator("table.checks tbody tr")
    shown = rows.locator("th").all_inner_texts()
    for check in SIGNATURE_CHECKS:
        assert check in shown, (check, shown)
    statuses = set(rows.locator("td:nth-child(2)").all_inner_texts())
    assert statuses <= {"通过", "不适用"}, statuses
    assert "依据上传的文件绘制" in page.locator("figcaption").inner_text()
    assert _image_drawn(page, ".verify-image img")
    expect(page.get_by_role("img", name=re.compile("notice-signed.ofd 的页面"))).to_be_visible()
    assert_accessible(page)

    tampered = tmp_path / "tampered.ofd"
    tampered.write_bytes(_tamper(signed.read_bytes()))
    page = _verify(console, tampered)
    expect(page.locator(".verdict")).to_contain_text("无效")
    failed = page.locator(".banner.error", has_text="未通过的检查")
    expect(failed).to_contain_text("受保护文件")
    expect(failed).to_contain_text("被修改或缺失")
    row = page.locator("table.checks tr[data-check=references]")
    expect(row.locator("td").first).to_have_text("未通过")
    assert_accessible(page)

    _suspend_resume_revoke(console, seal_id)


def _suspend_resume_revoke(console: ConsolePlatform, seal_id: str) -> None:
    page = _open(console, "demo-org-admin", f"/console/seals/{seal_id}")
    for button, state in (("暂停", "已暂停"), ("恢复", "已启用")):
        page.get_by_role("button", name=re.compile(f"^{button}")).click()
        page.wait_for_url(re.compile(r".*\?done=\w+$"))
        expect(page.get_by_role("status")).to_contain_text(state)
    page.get_by_label("原因").select_option("superseded")
    page.once("dialog", lambda dialog: dialog.accept())  # the confirm prompt
    page.get_by_role("button", name=re.compile("^撤销")).click()
    _resume_after_step_up(console, page, "demo-org-admin", "撤销印章")
    page.wait_for_url("**?done=revoke")
    expect(page.get_by_role("status")).to_contain_text("已撤销")
    expect(page.locator("dl.facts")).to_contain_text("已被替代")
    assert page.get_by_role("button", name=re.compile("^(暂停|恢复|撤销|启用)")).count() == 0
    assert_accessible(page)
    page.close()


def _tamper(ofd: bytes) -> bytes:
    """The signed OFD with one word of its page content changed (a protected file)."""
    source = zipfile.ZipFile(io.BytesIO(ofd))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if re.search(r"Pages/Page_\d+/Content\.xml$", item.filename):
                content = content.replace("网络安全".encode(), "网络安危".encode(), 1)
            target.writestr(item, content)
    return out.getvalue()


def test_an_analyst_is_refused_the_seals_page(console: ConsolePlatform) -> None:
    page = console.page("demo-analyst", "/console/seals")
    answer = page.goto(console.base + "/console/seals")
    assert answer is not None
    assert answer.status == 403
    expect(page.get_by_role("heading", name="无权访问")).to_be_visible()
    assert "电子印章" not in page.locator("nav").inner_text()
    page.close()


def test_the_verify_page_needs_no_sign_in_and_says_why_a_file_is_no_seal(
    console: ConsolePlatform, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.esl"
    junk.write_bytes(b"not a seal")
    page = _verify(console, junk)
    assert page.url.endswith("/console/verify")  # no sign-in on the way
    expect(page.locator(".verdict")).to_contain_text("无效")
    row = page.locator("table.checks tr[data-check=structure]")
    expect(row.locator("th")).to_have_text("签章数据结构")
    expect(row.locator("td").first).to_have_text("未通过")
    assert_accessible(page)


def test_the_verify_page_explains_a_certificate_sent_instead_of_a_document(
    console: ConsolePlatform, tmp_path: Path
) -> None:
    certificates = tmp_path / "ca.pem"
    certificates.write_bytes(console.get("/seals/ca/certificates").content)
    page = console.anonymous("/console/verify")
    page.get_by_label("OFD 文档或印章文件").set_input_files(certificates)
    page.get_by_role("button", name="验证", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("无法验证此文件")
    assert page.locator(".verdict").count() == 0
    assert_accessible(page)


def test_a_platform_admin_is_told_the_registry_shows_seals_to_its_roles_only(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-admin", "/console/seals")
    expect(page.get_by_role("status")).to_contain_text("您的角色不在其中")
    expect(page.get_by_role("link", name="验证文档或印章")).to_be_visible()
    assert page.get_by_role("button", name="提交申请").count() == 0
    assert_accessible(page)
    page.close()
