"""HTTP resources of ``/compliance`` (thin; rules live in :mod:`policies.service`).

Reports carry evidence about the platform's weaknesses: only ``compliance-officer`` and
``auditor`` read them; only ``compliance-officer`` runs the catalogue, waives and signs off.
The evidence is platform-wide, so both also need an org scope of the whole tree, read live from
their binding (``requires(whole_tree=True)``): someone bound to a county is refused.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from typing import Any, ClassVar, Protocol

import falcon
import falcon.asgi

from iam.falcon_auth import requires
from policies import codec, report, report_html
from policies.errors import InvalidRequest
from policies.model import Run
from policies.service import ComplianceService

READERS = ("compliance-officer", "auditor")
OFFICER = ("compliance-officer",)
_JSON = {"application/json": {"schema": {"type": "object"}}}
_TAGS = ["compliance"]
_ID = {"200": {"description": "OK", "content": _JSON}, "404": {"description": "Unknown id"}}


class RouteAdder(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


class Reports:
    """Renders a run's report in each format (PDF rendering is injected: fonts are settings)."""

    def __init__(self, service: ComplianceService, pdf: Any) -> None:
        self.service = service
        self._pdf = pdf

    def data(self, run: Run) -> dict[str, Any]:
        s = self.service
        return report.build(s.catalogue, run, changes=s.diff(run), trend=s.trend(run),
                            waivers=s.waivers())  # fmt: skip

    def render(self, run: Run, fmt: str) -> tuple[bytes, str]:
        if fmt == "json":
            return report.to_json(self.data(run)), "application/json; charset=utf-8"
        if fmt == "html":
            return report_html.render(self.data(run)), "text/html; charset=utf-8"
        if fmt == "pdf":
            issued = self.service.issued(run.id)
            if issued is not None:
                return issued.content, issued.media_type
            return self.pdf(run), "application/pdf"
        raise InvalidRequest("format: expected html, pdf or json")

    def pdf(self, run: Run) -> bytes:
        out: bytes = self._pdf(self.data(run))
        return out


async def _body(req: falcon.asgi.Request) -> dict[str, Any]:
    try:
        raw = await req.get_media()
    except falcon.MediaNotFoundError:
        return {}
    except falcon.MediaMalformedError as exc:
        raise InvalidRequest("body: malformed JSON") from exc
    if not isinstance(raw, dict):
        raise InvalidRequest("body: expected a JSON object")
    return raw


def _str(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidRequest(f"{name}: required string")
    return value


@requires(any_role=READERS, whole_tree=True)
class RunsCollection:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {"summary": "Compliance runs, newest first (summary counts)", "tags": _TAGS,
                "responses": {"200": {"description": "Runs", "content": _JSON}}},
        "post": {"summary": "Run the control catalogue against the live platform now",
                 "tags": _TAGS,
                 "responses": {"201": {"description": "The run with results", "content": _JSON},
                               "403": {"description": "Not a compliance officer"}}},
    }  # fmt: skip

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        runs = await asyncio.to_thread(self.service.runs, 100)
        resp.media = {"runs": [{k: v for k, v in codec.run_dict(r).items() if k != "results"}
                               for r in runs]}  # fmt: skip

    @falcon.before(requires(any_role=OFFICER, whole_tree=True).hook)
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        who = req.context.principal.username
        run = await asyncio.to_thread(self.service.run, trigger="api", requested_by=who)
        resp.status = falcon.HTTP_201
        resp.location = f"/compliance/runs/{run.id}"
        resp.media = codec.run_dict(run)


@requires(any_role=READERS, whole_tree=True)
class RunItem:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {"summary": "One run with every control's checks and findings", "tags": _TAGS,
                "responses": _ID},
    }  # fmt: skip

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, run_id: str
    ) -> None:
        run = await asyncio.to_thread(self.service.get, run_id)
        body = codec.run_dict(run)
        body["changes"] = [{"control_id": c.control_id,
                            "before": c.before.value if c.before else None, "after": c.after.value}
                           for c in await asyncio.to_thread(self.service.diff, run)]  # fmt: skip
        resp.media = body


@requires(any_role=READERS, whole_tree=True)
class RunReport:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {"summary": "The report as html, pdf (the signed bytes once issued) or json",
                "tags": _TAGS,
                "parameters": [{"name": "fmt", "in": "path", "required": True,
                                "schema": {"enum": ["html", "pdf", "json"]}}],
                "responses": {"200": {"description": "Report"}, "404": {"description": "Unknown"}}},
    }  # fmt: skip

    def __init__(self, reports: Reports) -> None:
        self.reports = reports

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, run_id: str, fmt: str
    ) -> None:
        run = await asyncio.to_thread(self.reports.service.get, run_id)
        data, media = await asyncio.to_thread(self.reports.render, run, fmt)
        resp.data, resp.content_type = data, media
        resp.downloadable_as = f"compliance-{run.id}.{fmt}"


@requires(any_role=READERS, whole_tree=True)
class RunSignature:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {"summary": "Detached SM2 signature and public key of the issued PDF report",
                "tags": _TAGS, "responses": _ID},
    }  # fmt: skip

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, run_id: str
    ) -> None:
        run = await asyncio.to_thread(self.service.get, run_id)
        issued = await asyncio.to_thread(self.service.issued, run_id)
        if issued is None or run.signoff is None:
            raise falcon.HTTPNotFound(title="Report not signed off yet")
        resp.media = {
            "run_id": run.id, "media_type": issued.media_type,
            "signature": base64.b64encode(issued.signature).decode("ascii"),
            "public_key_pem": run.signoff.public_key_pem,
            "report_sha256": run.signoff.report_sha256,
            "seal_signature": base64.b64encode(issued.seal_signature).decode("ascii") or None,
            "algorithm": "SM2-with-SM3 (1.2.156.10197.1.501), uid 1234567812345678, DER",
        }  # fmt: skip


@requires(any_role=OFFICER, whole_tree=True, introspect=True)
class RunSignOff:
    openapi: ClassVar[dict[str, Any]] = {
        "post": {"summary": "Review, comment and sign off; issues the SM2-signed PDF report",
                 "tags": _TAGS,
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "properties": {"comment": {"type": "string"}}}}}},
                 "responses": {"200": {"description": "Signed run", "content": _JSON},
                               "409": {"description": "Already signed"}}},
    }  # fmt: skip

    def __init__(self, reports: Reports) -> None:
        self.reports = reports

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, run_id: str
    ) -> None:
        body = await _body(req)
        comment = _str(body, "comment", required=False)
        run = await asyncio.to_thread(
            self.reports.service.sign_off, run_id, officer=req.context.principal.username,
            comment=comment, render=self.reports.pdf,
        )  # fmt: skip
        resp.media = codec.run_dict(run)


_SAID = {"type": "string", "pattern": "\\S"}  # not blank, as _str and the service check
#: The control must exist and expires_at lie ahead: checked by the service (400).
WAIVER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["control_id", "justification", "approver", "expires_at"],
    "properties": {
        "control_id": _SAID,
        "justification": _SAID,
        "approver": _SAID,
        "expires_at": {"type": "string", "format": "date-time"},
    },
}


@requires(any_role=READERS, whole_tree=True)
class Waivers:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {"summary": "Waivers (expired ones are listed but no longer count)", "tags": _TAGS,
                "responses": {"200": {"description": "Waivers", "content": _JSON}}},
        "post": {"summary": "Waive a control: justification, approver, expires_at (RFC 3339)",
                 "tags": _TAGS,
                 "requestBody": {"required": True,
                                 "content": {"application/json": {"schema": WAIVER_SCHEMA}}},
                 "responses": {"201": {"description": "Created", "content": _JSON},
                               "400": {"description": "Invalid field"}}},
    }  # fmt: skip

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        waivers = await asyncio.to_thread(self.service.waivers)
        resp.media = {"waivers": [codec.waiver_dict(w) for w in waivers]}

    @falcon.before(requires(any_role=OFFICER, whole_tree=True, introspect=True).hook)
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await _body(req)
        try:
            expires = datetime.fromisoformat(_str(body, "expires_at"))
        except ValueError as exc:
            raise InvalidRequest("expires_at: expected an RFC 3339 time") from exc
        waiver = await asyncio.to_thread(
            self.service.add_waiver, _str(body, "control_id"),
            justification=_str(body, "justification"), approver=_str(body, "approver"),
            expires_at=expires, created_by=req.context.principal.username,
        )  # fmt: skip
        resp.status = falcon.HTTP_201
        resp.media = codec.waiver_dict(waiver)


@requires(any_role=READERS, whole_tree=True)
class WaiverItem:
    openapi: ClassVar[dict[str, Any]] = {
        "get": {"summary": "One waiver", "tags": _TAGS, "responses": _ID},
        "delete": {"summary": "Withdraw a waiver", "tags": _TAGS,
                   "responses": {"204": {"description": "Deleted"},
                                 "404": {"description": "Unknown id"}}},
    }  # fmt: skip

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, waiver_id: str
    ) -> None:
        resp.media = codec.waiver_dict(await asyncio.to_thread(self.service.waiver, waiver_id))

    @falcon.before(requires(any_role=OFFICER, whole_tree=True, introspect=True).hook)
    async def on_delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, waiver_id: str
    ) -> None:
        await asyncio.to_thread(self.service.delete_waiver, waiver_id)
        resp.status = falcon.HTTP_204


def add_routes(api: RouteAdder, reports: Reports) -> None:
    service = reports.service
    api.add_route("/compliance/runs", RunsCollection(service))
    api.add_route("/compliance/runs/{run_id}", RunItem(service))
    api.add_route("/compliance/runs/{run_id}/report.{fmt}", RunReport(reports))
    api.add_route("/compliance/runs/{run_id}/signature", RunSignature(service))
    api.add_route("/compliance/runs/{run_id}/signoff", RunSignOff(reports))
    api.add_route("/compliance/waivers", Waivers(service))
    api.add_route("/compliance/waivers/{waiver_id}", WaiverItem(service))
