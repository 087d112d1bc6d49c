"""The console's browser checks, proven on pages whose verdict is known.

A local ``http.server`` (two: the second one is "another origin") serves small static pages
with the strict Content-Security-Policy the console sends; Debian's Chromium loads them. A
clean page passes :func:`assert_accessible` and :func:`only_origin`; a page with known serious
and critical violations fails the first, a page asking another origin for a picture fails the
second. The vendored htmx and custom ECharts (``anbao/console/static/vendor``) run under that
policy with no violation, given the settings the console must use: htmx's ``htmx-config`` meta
without indicator styles or eval, and ECharts' tooltip drawn on the canvas (``renderMode:
'richText'``), whose HTML tooltip writes ``style`` attributes the policy refuses.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.journeys.browser import chromium
from tests.journeys.console.accessibility import assert_accessible
from tests.journeys.console.offline import leaves, only_origin
from tests.paths import ROOT

VENDOR = ROOT / "anbao" / "console" / "static" / "vendor"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HTMX_CONFIG = '{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}'
CLEAN = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>总览</title>
<meta name="htmx-config" content='{HTMX_CONFIG}'>
<link rel="stylesheet" href="/site.css">
<script src="/vendor/htmx.min.js"></script>
<script src="/vendor/echarts.min.js"></script>
<script src="/chart.js" defer></script></head>
<body><main><h1>总览</h1>
<div id="chart" role="img" aria-label="按严重程度的未处理告警"></div>
<button type="button" hx-get="/fragment.html" hx-target="#more">更多</button>
<div id="more"></div></main></body></html>
"""
CHART_JS = """
const chart = echarts.init(document.getElementById("chart"));
chart.setOption({
  title: {text: "告警"}, legend: {}, tooltip: {trigger: "axis", renderMode: "richText"},
  dataZoom: [{type: "inside"}, {type: "slider"}],
  xAxis: {type: "category", data: ["严重", "高", "中", "低"]}, yAxis: {type: "value"},
  series: [{name: "数量", type: "bar", data: [3, 7, 12, 20]},
           {name: "趋势", type: "line", data: [2, 5, 9, 18]}],
});
document.body.dataset.chart = "drawn";
"""
SITE_CSS = "#chart { width: 600px; height: 300px; }\n"
FRAGMENT = '<p id="fragment">更多内容</p>\n'
# html-has-lang (serious) and image-alt (critical), nothing else worse than moderate.
BROKEN = """<!doctype html>
<html><head><meta charset="utf-8"><title>坏页面</title></head>
<body><main><h1>坏页面</h1><img src="/site.css" id="no-alt"></main></body></html>
"""


def _leaky(outside: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>外链</title></head>
<body><main><h1>外链</h1><img src="{outside}/pixel.png" alt="像素"></main></body></html>
"""


class _StrictHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a browser closing a connection early is not a failure of the page


def _serve(root: Path) -> Iterator[str]:
    handler = functools.partial(_StrictHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("outside")
    (root / "pixel.png").write_bytes(b"")
    yield from _serve(root)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, outside: str) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "vendor").mkdir()
    for name in ("htmx.min.js", "echarts.min.js"):
        shutil.copy(VENDOR / name, root / "vendor" / name)
    for name, text in {
        "clean.html": CLEAN,
        "chart.js": CHART_JS,
        "site.css": SITE_CSS,
        "fragment.html": FRAGMENT,
        "broken.html": BROKEN,
        "leaky.html": _leaky(outside),
    }.items():
        (root / name).write_text(text, encoding="utf-8")
    yield from _serve(root)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    try:
        yield page
    finally:
        page.close()


def test_a_clean_page_with_the_vendored_scripts_passes(page: Page, site: str) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    with only_origin(page, site) as seen:
        page.goto(f"{site}/clean.html")
        page.wait_for_selector("body[data-chart=drawn] #chart canvas")
        box = page.locator("#chart").bounding_box()
        assert box
        page.mouse.move(box["x"] + 200, box["y"] + 200)  # the tooltip
        page.click("button")  # htmx swaps the fragment in
        page.wait_for_selector("#fragment")
        assert_accessible(page)
    assert page.evaluate("[htmx.version, echarts.version]") == ["2.0.11", "6.1.0"]
    assert f"{site}/fragment.html" in seen
    assert not refused, refused


def test_serious_and_critical_violations_fail_with_a_readable_list(page: Page, site: str) -> None:
    page.goto(f"{site}/broken.html")
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page)
    message = str(failure.value)
    assert "2 serious or critical violation(s)" in message
    assert "- serious html-has-lang: <html> element must have a lang attribute" in message
    assert "- critical image-alt: Images must have alternative text" in message
    assert "    #no-alt: Fix any of the following:" in message


def _visit_on_origin(page: Page, site: str, path: str) -> None:
    with only_origin(page, site):
        page.goto(f"{site}{path}")
        page.wait_for_load_state("networkidle")


def test_a_request_to_another_origin_fails(page: Page, site: str, outside: str) -> None:
    with pytest.raises(AssertionError) as failure:
        _visit_on_origin(page, site, "/leaky.html")
    assert str(failure.value) == f"requests leaving {site}:\n  {outside}/pixel.png"


@pytest.mark.parametrize(
    ("url", "out"),
    [
        ("http://127.0.0.1:8000/console/", False),
        ("ws://127.0.0.1:8000/live", False),
        ("data:image/png;base64,AAAA", False),
        ("http://127.0.0.1:8001/console/", True),
        ("https://127.0.0.1:8000/", True),
        ("http://localhost:8000/", True),
        ("https://cdn.example/echarts.min.js", True),
    ],
)
def test_origins(url: str, out: bool) -> None:
    assert leaves(url, "http://127.0.0.1:8000/console/overview") is out
