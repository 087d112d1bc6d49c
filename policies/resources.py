"""HTTP resources of ``/compliance`` (thin; rules live in :mod:`policies.runs.service`).

Reports carry evidence about the platform's weaknesses: only ``compliance-officer`` and
``auditor`` read them; only ``compliance-officer`` runs the catalogue, waives and signs off.
A waiver is requested by one officer and approved or rejected by another (four eyes); each is
the user of the request's verified token, never a name in the body.
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

from iam.tokens.falcon import requires
from policies.errors import InvalidRequest, NotSignedOff
from policies.model import Assessee, Officer, Run, Waiver
from policies.reports import content as report
from policies.reports import html as report_html
from policies.runs import codec
from policies.runs.service import MAX_REASON, MAX_TEXT, ComplianceService

READERS = ("compliance-officer", "auditor")
OFFICER = ("compliance-officer",)
#: High-risk methods (sign-off, waiver requests and decisions): the auth middleware confirms the
#: caller's session is still alive (RFC 7662) before anything else runs.
_HIGH_RISK_POST = frozenset({"POST"})
_JSON = {"application/json": {"schema": {"type": "object"}}}
_TAGS = ["compliance"]
_ID = {"200": {"description": "OK", "content": _JSON}, "404": {"description": "Unknown id"}}


def _json(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body; the edge checks it and answers a violation with this package's
    ``compliance_invalid_request`` problem."""
    return {"required": required, "content": {"application/json": {"schema": schema}},
            "x-problem-code": InvalidRequest.code}  # fmt: skip


class RouteAdder(Protocol):
    def add_route(self, template: str, resource: object) -> None: ...


class Reports:
    """Renders a run's report in each format (PDF rendering is injected: fonts are settings)."""

    def __init__(
        self, service: ComplianceService, pdf: Any, assessee: Assessee | None = None
    ) -> None:
        self.service = service
        self._pdf = pdf
        self.assessee = assessee

    def data(self, run: Run) -> dict[str, Any]:
        s = self.service
        return report.build(s.catalogue, run, changes=s.diff(run), trend=s.trend(run),
                            waivers=s.waivers(), assessee=self.assessee)  # fmt: skip

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
        who = _officer(req).name
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
                "tags": _TAGS, "responses": {
                    **_ID, "409": {"description": "Not signed off yet"}}},
    }  # fmt: skip

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, run_id: str
    ) -> None:
        run = await asyncio.to_thread(self.service.get, run_id)
        issued = await asyncio.to_thread(self.service.issued, run_id)
        if issued is None or run.signoff is None:
            raise NotSignedOff(f"Run {run.id} has no signed report yet: sign it off first.")
        resp.media = {
            "run_id": run.id, "media_type": issued.media_type,
            "signature": base64.b64encode(issued.signature).decode("ascii"),
            "public_key_pem": run.signoff.public_key_pem,
            "report_sha256": run.signoff.report_sha256,
            "seal_signature": base64.b64encode(issued.seal_signature).decode("ascii") or None,
            "algorithm": "SM2-with-SM3 (1.2.156.10197.1.501), uid 1234567812345678, DER",
        }  # fmt: skip


@requires(any_role=OFFICER, whole_tree=True)
class RunSignOff:
    introspect_methods = _HIGH_RISK_POST  # signing a report: the session must be alive
    openapi: ClassVar[dict[str, Any]] = {
        "post": {"summary": "Review, comment and sign off; issues the SM2-signed PDF report",
                 "tags": _TAGS,
                 "requestBody": _json({"type": "object",
                                       "properties": {"comment": {"type": "string"}}}),
                 "responses": {"200": {"description": "Signed run", "content": _JSON},
                               "409": {"description": "Already signed"}}},
    }  # fmt: skip

    def __init__(self, reports: Reports) -> None:
        self.reports = reports

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, run_id: str
    ) -> None:
        comment = (await req.get_media()).get("comment", "")
        run = await asyncio.to_thread(
            self.reports.service.sign_off, run_id, officer=_officer(req).name,
            comment=comment, render=self.reports.pdf,
        )  # fmt: skip
        resp.media = codec.run_dict(run)


#: Request bodies of the waiver operations (the OpenAPI schemas; the handlers check the same).
WAIVER_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["control_id", "justification", "expires_at"],
    "properties": {
        "control_id": {"type": "string", "minLength": 1, "maxLength": 64,
                       "description": "A control of the catalogue, e.g. L3-CES1-02"},
        "justification": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT,
                          "pattern": "\\S"},
        "expires_at": {"type": "string", "format": "date-time",
                       "description": "RFC 3339 with a zone, in the future"},
    },
    # Retired names, refused with what replaced them (issue 16 §2.4: who approved is never a
    # name in the body); not properties of the body, so the document does not offer them.
    "patternProperties": {"^approver$": {
        "not": {}, "deprecated": True,
        "description": "no longer accepted: a second compliance officer approves with "
                       "POST /compliance/waivers/{id}/approve, recorded under their token"}},
    "additionalProperties": False,
}  # fmt: skip
WAIVER_APPROVE_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": False}
WAIVER_REJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON,
                              "pattern": "\\S"}},
    "additionalProperties": False,
}  # fmt: skip


def _officer(req: falcon.asgi.Request) -> Officer:
    """The caller from the verified token, named by username, else subject (every act of
    ``/compliance`` names its person so: a token without ``preferred_username`` is still one)."""
    principal = req.context.principal
    return Officer(principal.username or principal.subject, principal.subject)


@requires(any_role=READERS, whole_tree=True)
class Waivers:
    introspect_methods = _HIGH_RISK_POST  # requesting a waiver (POST)
    openapi: ClassVar[dict[str, Any]] = {
        "get": {"summary": "Waivers in every state (expired ones are listed but no longer count)",
                "tags": _TAGS,
                "responses": {"200": {"description": "Waivers", "content": _JSON}}},
        "post": {"summary": "Request a waiver of a control (pending until another officer "
                            "approves it); the requester is the caller",
                 "tags": _TAGS, "requestBody": _json(WAIVER_REQUEST_SCHEMA),
                 "responses": {"201": {"description": "Pending waiver", "content": _JSON},
                               "400": {"description": "Invalid, unknown or retired field"}}},
    }  # fmt: skip

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        waivers = await asyncio.to_thread(self.service.waivers)
        resp.media = {"waivers": [codec.waiver_dict(w) for w in waivers]}

    @falcon.before(requires(any_role=OFFICER, whole_tree=True).hook)
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await req.get_media()
        try:
            expires = datetime.fromisoformat(body["expires_at"])
        except ValueError as exc:
            raise InvalidRequest("expires_at: expected an RFC 3339 time",
                                 field="expires_at") from exc  # fmt: skip
        waiver = await asyncio.to_thread(
            self.service.request_waiver, body["control_id"],
            justification=body["justification"], expires_at=expires,
            officer=_officer(req),
        )  # fmt: skip
        resp.status = falcon.HTTP_201
        resp.location = f"/compliance/waivers/{waiver.id}"
        resp.media = codec.waiver_dict(waiver)


class _WaiverDecision:
    """Four eyes: an officer other than the requester decides; the session must be alive."""

    def __init__(self, service: ComplianceService) -> None:
        self.service = service

    async def on_post(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, waiver_id: str
    ) -> None:
        body = await req.get_media()
        waiver = await asyncio.to_thread(self.decide, waiver_id, _officer(req), body)
        resp.media = codec.waiver_dict(waiver)

    def decide(self, waiver_id: str, officer: Officer, body: dict[str, Any]) -> Waiver:
        raise NotImplementedError


@requires(any_role=OFFICER, whole_tree=True)
class WaiverApprove(_WaiverDecision):
    introspect_methods = _HIGH_RISK_POST
    openapi: ClassVar[dict[str, Any]] = {
        "post": {"summary": "Approve a pending waiver (not your own request); it counts from now",
                 "tags": _TAGS, "requestBody": _json(WAIVER_APPROVE_SCHEMA, required=False),
                 "responses": {"200": {"description": "Approved waiver", "content": _JSON},
                               "403": {"description": "Your own request, or not an officer"},
                               "404": {"description": "Unknown id"},
                               "409": {"description": "Not pending, or expired"}}},
    }  # fmt: skip

    def decide(self, waiver_id: str, officer: Officer, body: dict[str, Any]) -> Waiver:
        return self.service.approve_waiver(waiver_id, officer=officer)


@requires(any_role=OFFICER, whole_tree=True)
class WaiverReject(_WaiverDecision):
    introspect_methods = _HIGH_RISK_POST
    openapi: ClassVar[dict[str, Any]] = {
        "post": {"summary": "Reject a pending waiver (not your own request) with a reason",
                 "tags": _TAGS, "requestBody": _json(WAIVER_REJECT_SCHEMA),
                 "responses": {"200": {"description": "Rejected waiver", "content": _JSON},
                               "400": {"description": "No reason"},
                               "403": {"description": "Your own request, or not an officer"},
                               "404": {"description": "Unknown id"},
                               "409": {"description": "Not pending"}}},
    }  # fmt: skip

    def decide(self, waiver_id: str, officer: Officer, body: dict[str, Any]) -> Waiver:
        return self.service.reject_waiver(waiver_id, officer=officer, reason=body["reason"])


@requires(any_role=READERS, whole_tree=True)
class WaiverItem:
    introspect_methods = frozenset({"DELETE"})  # withdrawing a waiver
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

    @falcon.before(requires(any_role=OFFICER, whole_tree=True).hook)
    async def on_delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, waiver_id: str
    ) -> None:
        await asyncio.to_thread(self.service.delete_waiver, waiver_id, officer=_officer(req))
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
    api.add_route("/compliance/waivers/{waiver_id}/approve", WaiverApprove(service))
    api.add_route("/compliance/waivers/{waiver_id}/reject", WaiverReject(service))
