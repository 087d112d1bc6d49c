"""The public verification page: anyone checks a sealed OFD (or a seal) without signing in.

A citizen or another department receiving a sealed document must be able to check it, as
with a paper seal (the API's ``POST /seals/verify`` is public for the same reason). The page
calls that route anonymously through the console's API client — the same verifier, trust and
limits as every other caller — and shows the whole report: each check, its status and its
reason in the person's language (:mod:`.seal_report`), beside a picture of the stamped page
drawn by ``crypto.seals.preview`` from the uploaded bytes (SVG, shown as an ``<img>`` so no
content of the upload can run). Nothing is kept: the upload lives for the request only.

No session means no CSRF token; the page changes nothing, and a post from another site is
refused anyway (``Sec-Fetch-Site``), so a hostile page cannot use a visitor's browser to make
the server verify on its behalf.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import falcon
import falcon.asgi

from anbao.console.api import ApiClient, Problem
from anbao.console.pages.seal_report import report_view
from anbao.console.web import PREFIX, Console, Upload, form_of
from anbao.web.asgi_app import AsgiApp
from crypto.seals.format.errors import MalformedSeal
from crypto.seals.preview import render_seal, render_stamped_page

_ZIP = b"PK\x03\x04"


class Verify:
    """``GET``/``POST /console/verify`` (public)."""

    auth_required = False

    def __init__(self, console: Console) -> None:
        self.console = console

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        self.console.render(req, resp, "seal_verify.html", domain="seals")

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if req.get_header("Sec-Fetch-Site") not in (None, "same-origin", "none"):
            raise falcon.HTTPForbidden(title="Cross-site request refused")
        tr = self.console.translator(req, "seals")
        upload = (await form_of(req)).get("file")
        if not isinstance(upload, Upload) or not upload.data:
            message = tr.t("Choose an OFD document or a seal file to verify.")
            self.console.render(
                req, resp, "seal_verify.html", status=falcon.HTTP_400, error=message, domain="seals"
            )
            return
        host = req.remote_addr or "127.0.0.1"
        try:
            async with ApiClient(self.console.app, "", (host, 0)) as api:
                answer = await api.call(
                    "POST",
                    "/seals/verify",
                    content=upload.data,
                    headers={"Content-Type": "application/octet-stream"},
                )
        except Problem as problem:
            status = problem.status if 400 <= problem.status < 500 else 502  # noqa: PLR2004
            self.console.render(
                req,
                resp,
                "seal_verify.html",
                status=falcon.code_to_http_status(status),
                problem=problem,
                filename=upload.filename,
                domain="seals",
            )
            return
        report = answer.json()
        self.console.render(
            req,
            resp,
            "seal_verify.html",
            report=report_view(report, tr),
            filename=upload.filename,
            image=await preview(upload.data, str(report.get("kind", ""))),
            domain="seals",
        )


async def preview(data: bytes, kind: str) -> str:
    """The stamped page (an OFD) or the seal's picture (a seal) as an SVG data URI; "" when
    there is nothing to draw or it cannot be drawn (the report says why the file is bad)."""
    draw: Callable[[bytes], str]
    if kind == "ofd" and data.startswith(_ZIP):
        draw = render_stamped_page
    elif kind == "seal":
        draw = render_seal
    else:
        return ""
    try:
        svg = await asyncio.to_thread(draw, data)
    except MalformedSeal:
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def add_routes(app: AsgiApp, console: Console) -> None:
    app.add_route(PREFIX + "/verify", Verify(console))
