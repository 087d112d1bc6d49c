"""No request leaves the console's origin (issue 19 §3: every asset served by Anbao).

The province's network has no way out, so a page that asks a CDN for a script, a font or a
picture breaks there even when it works on a developer's machine. :func:`only_origin` records
every request the page makes (``page.on("request")``: documents, scripts, styles, images,
fonts, fetch/XHR, including those the page's CSP then refuses, which Chromium still reports) and
every WebSocket it opens, and fails if one goes to another origin (scheme, host and port: another
port of the same machine is another origin). ``data:``, ``blob:`` and ``about:`` URLs never reach
a network and are allowed.

Requests are recorded while the ``with`` block runs: wait in it for what the page loads late
(``page.wait_for_load_state("networkidle")``, or the element a chart draws into).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, WebSocket

_LOCAL_SCHEMES = ("data", "blob", "about")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEBSOCKET_SCHEMES = {"ws": "http", "wss": "https"}


def origin(url: str) -> tuple[str, str, int]:
    """RFC 6454 origin of a URL (scheme, host, port), a WebSocket URL as its HTTP origin."""
    parts = urlsplit(url)
    scheme = _WEBSOCKET_SCHEMES.get(parts.scheme, parts.scheme)
    return scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS.get(scheme, 0)


def leaves(url: str, base_url: str) -> bool:
    """Whether loading ``url`` reaches outside ``base_url``'s origin."""
    return urlsplit(url).scheme not in _LOCAL_SCHEMES and origin(url) != origin(base_url)


@contextmanager
def only_origin(page: Page, base_url: str) -> Iterator[list[str]]:
    """Record the URLs ``page`` requests in the block (yielded, in order); on leaving the block
    normally, fail with the list of those outside ``base_url``'s origin."""
    seen: list[str] = []

    def on_request(request: Request) -> None:
        seen.append(request.url)

    def on_websocket(websocket: WebSocket) -> None:
        seen.append(websocket.url)

    page.on("request", on_request)
    page.on("websocket", on_websocket)
    try:
        yield seen
    finally:
        page.remove_listener("request", on_request)
        page.remove_listener("websocket", on_websocket)
    outside = [url for url in seen if leaves(url, base_url)]
    assert not outside, f"requests leaving {base_url}:\n" + "\n".join(f"  {u}" for u in outside)
