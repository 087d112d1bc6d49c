"""Audit search in the console (issue 19): an analyst's and an auditor's day in Kibana's place.

Events come from using the platform: every sign-in (Keycloak's events) and every API call the
console makes on a person's behalf is an audit event. The demo platform signs tree heads every
two seconds (platform.py), so an event's inclusion proof is there soon after it is written.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page

from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.platform import ConsolePlatform

BAD_QUERY = "user.name:alice AND (denied"
#: Where the parser says the query goes wrong: at its end (docs/audit-search.md "Errors").
BAD_AT = len(BAD_QUERY)


def swapped(page: Page, act: Callable[[], None]) -> None:
    """Do ``act`` and wait until htmx has swapped the workspace (the address pushed first)."""
    page.locator("#workspace > form").evaluate("form => form.dataset.old = '1'")
    act()
    page.locator("#workspace > form:not([data-old])").wait_for()


def search(page: Page, query: str) -> None:
    """Type ``query`` and search; htmx swaps the results (the address follows)."""
    page.locator("#q").fill(query)
    swapped(page, page.get_by_role("button", name="检索", exact=True).click)


def cells(page: Page, column: str) -> list[str]:
    headers = page.locator("table.events thead th").all_inner_texts()
    index = headers.index(column) + 1
    return page.locator(f"table.events tbody tr td:nth-child({index})").all_inner_texts()


def ids_on_page(page: Page) -> list[str]:
    return page.locator("table.events .detail-link .visually-hidden").evaluate_all(
        "els => els.map(e => e.textContent.trim())"
    )


def test_an_analyst_searches_sees_the_histogram_and_a_caret_under_a_mistake(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-analyst", "/console/audit")
    assert page.get_by_role("heading", level=1).inner_text() == "审计检索"
    page.locator("[data-chart] canvas").first.wait_for()
    histogram = page.locator("[data-chart]")
    assert "条事件" in (histogram.get_attribute("aria-label") or "")
    page.get_by_text("以表格查看").click()
    assert page.locator("table.compact tbody tr").count() > 0
    assert_accessible(page)

    search(page, "user.name:demo-analyst")
    assert parse_qs(urlsplit(page.url).query)["q"] == ["user.name:demo-analyst"]
    names = cells(page, "user.name")
    assert names
    assert set(names) == {"demo-analyst"}
    page.locator("[data-chart] canvas").first.wait_for()  # the histogram came with the swap

    search(page, BAD_QUERY)
    alert = page.get_by_role("alert")
    assert "审计查询语句有误" in alert.inner_text()
    caret = page.locator("pre.caret").inner_text().split("\n")
    assert caret[0] == BAD_QUERY
    assert caret[1] == " " * BAD_AT + "^"
    assert page.locator("#q").input_value() == BAD_QUERY  # kept to mend
    assert page.locator("#q").get_attribute("aria-invalid") == "true"
    assert_accessible(page)


def test_a_facet_narrows_the_search_and_columns_are_remembered(console: ConsolePlatform) -> None:
    page = console.page("demo-analyst", "/console/audit?range=all")
    facet = page.locator("section.facet").filter(has_text="主要操作")
    action = facet.locator("a.facet-value").first.inner_text()
    swapped(page, facet.locator("a.facet-value").first.click)
    assert f'event.action:"{action}"' in page.locator("#q").input_value()
    assert set(cells(page, "event.action")) == {action}

    page.get_by_text("选择列").click()
    page.locator("input[name=col][value='event.id']").check()
    page.locator("input[name=col][value='url.path']").uncheck()
    swapped(page, page.get_by_role("button", name="应用").click)
    headers = page.locator("table.events thead th").all_inner_texts()
    assert "event.id" in headers
    assert "url.path" not in headers
    page.goto(console.base + "/console/audit")  # another visit: the choice is kept
    headers = page.locator("table.events thead th").all_inner_texts()
    assert "event.id" in headers
    assert "url.path" not in headers


def test_a_histogram_interval_narrows_the_time_range(console: ConsolePlatform) -> None:
    page = console.page("demo-auditor", "/console/audit?range=7d")
    page.locator("[data-chart] canvas").first.wait_for()
    page.get_by_text("以表格查看").click()
    busy = page.locator("table.compact tbody tr").filter(has_not=page.locator("td.num >> text='0'"))
    swapped(page, busy.last.get_by_role("link").click)
    assert page.locator("#range").input_value() == "custom"
    assert page.locator("#start").input_value()
    assert page.locator("#end").input_value() > page.locator("#start").input_value()
    assert ids_on_page(page)


def test_an_event_shows_its_inclusion_proof_verified_in_the_browser(
    console: ConsolePlatform,
) -> None:
    page = console.page("demo-auditor", "/console/audit?q=event.action:keycloak.login")
    page.locator("table.events .detail-link").first.click()
    page.wait_for_url("**/console/audit/events/**")
    deadline = time.monotonic() + 60
    while page.locator("#proof-check").count() == 0 and time.monotonic() < deadline:
        time.sleep(2)  # no signed tree head covers it yet: heads follow within seconds
        page.reload()
    result = page.locator("#proof-result")
    page.wait_for_function("document.getElementById('proof-check').dataset.verified")
    assert result.inner_text() == "证明已验证：该事件在已签名的审计日志中。"  # noqa: RUF001 - Chinese punctuation
    steps = page.locator("#proof-steps li").all_inner_texts()
    assert steps[0].startswith("叶子哈希 SM3(0x00 ‖ 事件) = ")
    assert steps[-1].startswith("计算所得根哈希 = 已签名根哈希 ")
    root = page.locator("dl.facts code.hash").first.inner_text()
    assert steps[-1].endswith(root)
    fields = page.locator("table.fields-table").inner_text()
    assert "keycloak.login" in fields
    assert_accessible(page)


def test_a_saved_search_comes_back(console: ConsolePlatform) -> None:
    page = console.page("demo-analyst", "/console/audit")
    name = f"失败的登录 {secrets.token_hex(3)}"
    search(page, "event.outcome:failure")
    page.locator("#saved-name").fill(name)
    page.get_by_role("button", name="保存", exact=True).click()
    page.wait_for_load_state()
    page.goto(console.base + "/console/audit?range=all")
    saved = page.locator(".saved-list li").filter(has_text=name)
    swapped(page, saved.locator("a.saved-name").click)
    assert page.locator("#q").input_value() == "event.outcome:failure"
    assert page.locator("#range").input_value() == "24h"
    page.once("dialog", lambda dialog: dialog.accept())
    saved = page.locator(".saved-list li").filter(has_text=name)
    saved.get_by_role("button", name=f"删除 {name}").click()
    page.wait_for_load_state()
    assert page.locator(".saved-list li").filter(has_text=name).count() == 0


def test_exports_stream_csv_and_ndjson_with_the_events(
    console: ConsolePlatform, tmp_path: Path
) -> None:
    page = console.page("demo-analyst", "/console/audit?q=user.name:demo-analyst&range=all")
    shown = set(ids_on_page(page))
    assert shown
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV").click()
    csv_file = tmp_path / "events.csv"
    csv_download.value.save_as(csv_file)
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    assert shown <= {row["event.id"] for row in rows}
    assert {row["user.name"] for row in rows} == {"demo-analyst"}
    assert "下载完成" in page.locator("#export-progress").inner_text()

    with page.expect_download() as ndjson_download:
        page.get_by_role("link", name="NDJSON").click()
    ndjson_file = tmp_path / "events.ndjson"
    ndjson_download.value.save_as(ndjson_file)
    events = [json.loads(line) for line in ndjson_file.read_text(encoding="utf-8").splitlines()]
    assert shown <= {e["event"]["id"] for e in events}
    assert {e["user"]["name"] for e in events} == {"demo-analyst"}


def test_pages_go_forward_and_back_by_cursor(console: ConsolePlatform) -> None:
    page = console.page("demo-auditor", "/console/audit?range=all&size=10&order=asc")
    first = ids_on_page(page)
    assert len(first) == 10

    def go(name: str) -> list[str]:
        pages = page.get_by_role("navigation", name="分页")
        swapped(page, pages.get_by_role("link", name=name).click)
        return ids_on_page(page)

    second = go("下一页")
    assert "after=" in page.url
    third = go("下一页")
    assert not set(first) & set(second)
    assert not set(second) & set(third)
    assert "第 3 页" in page.get_by_role("navigation", name="分页").inner_text()
    assert go("上一页") == second
    assert "before=" in page.url
    assert go("上一页") == first


def test_a_developer_has_no_audit_search(console: ConsolePlatform) -> None:
    page = console.page("demo-developer")
    assert "审计检索" not in page.locator("nav[aria-label] a").all_inner_texts()
    for path in ("/console/audit", "/console/audit/export?format=csv"):
        answer = page.goto(console.base + path)
        assert answer is not None
        assert answer.status == 403
