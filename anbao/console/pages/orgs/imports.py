"""Bulk import of org nodes or people from CSV/XLSX: the dry run's report first, then the import.

The file goes to ``POST /iam/imports/{kind}`` as it came: ``?dry_run=true`` validates it whole
and answers every finding (row, column, reason: 422 ``import_invalid``) without writing; the
real import is the same file without the flag. A re-sent file resumes (what exists is skipped),
so an interrupted import is simply sent again. The form posts with htmx so the page shows the
upload's progress and then the server's count; without script it is an ordinary form.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from anbao.console.api import Problem
from anbao.console.pages.orgs.tree import ROLES
from anbao.console.web import Page, Upload, View

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KINDS = ("nodes", "people")
#: The header row of each kind, with one example line (the CSV templates offered).
TEMPLATES = {
    "nodes": "kind,code,name,parent_code\r\ntownship,530102002,护国街道,530102\r\n",
    "people": (
        "username,family_name,given_name,email,org_codes,invite\r\n"
        "zhang.san,张,三,zhang.san@example.gov.cn,530102001,yes\r\n"
    ),
}
MAX_BYTES = 20 * 1024 * 1024


class Import(Page):
    """``/console/orgs/import``: the form, the dry-run report and the import's result."""

    roles = ROLES
    action_label = "Import the file"

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        template = req.get_param("template") or ""
        if template in TEMPLATES:
            resp.content_type = "text/csv; charset=utf-8"
            resp.downloadable_as = f"anbao-{template}.csv"
            resp.data = ("\ufeff" + TEMPLATES[template]).encode()
            return
        self.console.render(
            req, resp, "orgs_import.html", view, kind="people", result=None, link_base=""
        )

    async def post(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **_: str
    ) -> None:
        form = await view.form()
        kind = str(form.get("kind", ""))
        upload = form.get("file")
        dry_run = form.get("mode") != "apply"
        result = await _send(view, kind, upload, dry_run=dry_run)
        partial = req.get_header("HX-Request") == "true"  # htmx swaps 2xx answers only
        status = falcon.HTTP_200 if result["ok"] or partial else falcon.HTTP_422
        template = "orgs_import_result.html" if partial else None
        self.console.render(
            req,
            resp,
            template or "orgs_import.html",
            view,
            status=status,
            kind=kind if kind in KINDS else "people",
            result=result,
            link_base=req.forwarded_prefix.rstrip("/"),
        )


async def _send(view: View, kind: str, upload: object, *, dry_run: bool) -> dict[str, Any]:
    """The API's answer for ``upload``, as the page shows it."""
    result: dict[str, Any] = {"ok": False, "dry_run": dry_run, "findings": [], "total": 0}
    if kind not in KINDS:
        return result | {"message": "Choose what the file holds."}
    if not isinstance(upload, Upload) or not upload.data:
        return result | {"message": "Choose a CSV or XLSX file."}
    if len(upload.data) > MAX_BYTES:
        return result | {"message": "The file is larger than 20 MiB."}
    result["filename"] = upload.filename
    xlsx = upload.filename.lower().endswith(".xlsx")
    try:
        async with view.api() as api:
            answer = await api.call(
                "POST",
                f"/iam/imports/{kind}",
                params={"dry_run": "true"} if dry_run else {},
                content=upload.data,
                headers={"Content-Type": XLSX if xlsx else "text/csv"},
            )
    except Problem as problem:
        findings = problem.body.get("findings") or []
        return result | {
            "problem": problem,
            "findings": list(findings),
            "total": int(problem.body.get("total") or len(findings)),
        }
    body = answer.json()
    return result | {"ok": True, "body": body, "invitations": body.get("invitations") or []}
