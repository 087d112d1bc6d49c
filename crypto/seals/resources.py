"""``POST /seals/verify``: the verification report over HTTP (thin; all logic in ``verify``).

Public on purpose (``auth_required = False``): whoever receives a sealed document, a citizen
or another department, must be able to check it, as with a paper seal. Verification reads
only what the caller sends plus public trust material (roots, intermediates, CRLs), costs a
bounded amount of work (the body limit of the server and ``crypto.seals.format.package.Limits``) and
runs in a worker thread. Bodies:

- ``application/ofd``, ``application/zip``, ``application/octet-stream``: an OFD package, a
  SESeal (``.esl``) or a SES_Signature, told apart by content;
- ``application/json``: ``{"signature": base64, "document": base64?}`` for a detached
  signature (without ``document`` the hash check is indeterminate).

``?at=ISO-8601`` sets the validation time (default: now). The answer is always 200 with the
report; an unreadable request (bad JSON, bad base64, bad ``at``) is a 400 problem.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

import falcon
import falcon.asgi

from crypto.seals.format.errors import MalformedSeal
from crypto.seals.format.report import Report
from crypto.seals.format.trust import Trust, load_certificates, load_crls, misplaced
from crypto.seals.format.verify import Options, TimestampVerifier, verify_detached
from crypto.seals.format.verify_ofd import verify_any

_BASE64 = {"type": "string", "contentEncoding": "base64", "pattern": "^[A-Za-z0-9+/]*={0,2}$"}
#: A detached seal signature (base64 DER) and, optionally, the document it signs.
DETACHED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["signature"],
    "properties": {"signature": _BASE64, "document": {"anyOf": [_BASE64, {"type": "null"}]}},
}
BINARY_TYPES = ("application/ofd", "application/zip", "application/octet-stream")


class TrustSource(Protocol):
    """Where the verifier's trust material comes from (files now; the seal CA registry later)."""

    def trust(self) -> Trust:
        """The current roots, intermediates and CRLs."""
        ...


class FileTrust:
    """Trust from PEM/DER files, re-read when a file changes (CRLs are replaced in place)."""

    def __init__(
        self, roots: str = "", intermediates: str = "", crls: tuple[str, ...] = ()
    ) -> None:
        self._files = {"roots": roots, "intermediates": intermediates}
        self._crls = tuple(c for c in crls if c)
        self._stamp: tuple[float, ...] | None = None
        self._trust = Trust()

    def _mtimes(self) -> tuple[float, ...]:
        paths = [p for p in (*self._files.values(), *self._crls) if p]
        return tuple(Path(p).stat().st_mtime for p in paths)

    def trust(self) -> Trust:
        """Load (or reload) the files; a broken file is a start-up or request error."""
        stamp = self._mtimes()
        if stamp != self._stamp:
            roots, inter = (self._files[k] for k in ("roots", "intermediates"))
            self._trust = Trust(
                roots=load_certificates(Path(roots).read_bytes()) if roots else (),
                intermediates=load_certificates(Path(inter).read_bytes()) if inter else (),
                crls=tuple(c for p in self._crls for c in load_crls(Path(p).read_bytes())),
            )
            self._stamp = stamp
        return self._trust


def _b64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedSeal(f"{name} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSeal(f"{name} is not valid base64") from exc


def _at(value: str | None, clock: Callable[[], datetime]) -> datetime:
    if value is None:
        return clock()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedSeal("at is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _verify_json(media: dict[str, Any], opts: Options) -> Report:
    """A detached signature, as :data:`DETACHED_SCHEMA` admits it (checked at the edge)."""
    document = media.get("document")
    signature = _b64(media["signature"], "signature")
    return verify_detached(
        signature, None if document is None else _b64(document, "document"), opts
    )


def _verify_binary(body: bytes, opts: Options) -> Report:
    """An OFD, seal or seal signature; a certificate or CRL sent instead is a client mistake."""
    kind = misplaced(body)
    if kind is not None:
        raise MalformedSeal(f"the body is {kind}, not an OFD, seal or seal signature")
    return verify_any(body, opts)


_OK = {
    "description": "Verification report",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
_PROBLEM = {
    "description": "Problem",
    "content": {"application/problem+json": {"schema": {"type": "object"}}},
}


class SealVerify:
    """``POST /seals/verify``."""

    auth_required = False
    openapi: ClassVar[dict[str, Any]] = {
        "post": {
            "summary": "Verify an OFD document, a seal or a seal signature (public)",
            "tags": ["seals"],
            "parameters": [
                {"name": "at", "in": "query", "schema": {"type": "string", "format": "date-time"}}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    **{t: {"schema": {"type": "string", "format": "binary"}} for t in BINARY_TYPES},
                    "application/json": {"schema": DETACHED_SCHEMA},
                },
                # A JSON body that breaks its schema is refused at the edge with this problem.
                "x-problem-code": MalformedSeal.code,
            },
            "responses": {"200": _OK, "400": _PROBLEM, "413": _PROBLEM, "415": _PROBLEM},
        }
    }

    def __init__(
        self,
        trust: TrustSource,
        clock: Callable[[], datetime],
        timestamp_verifier: TimestampVerifier | None = None,
    ) -> None:
        self._trust = trust
        self._clock = clock
        self._timestamp_verifier = timestamp_verifier

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Verify the body and answer with the report."""
        kind = (req.content_type or "").split(";")[0].strip().lower()
        if kind not in (*BINARY_TYPES, "application/json"):
            raise falcon.HTTPUnsupportedMediaType(
                description="send application/ofd, application/octet-stream or application/json"
            )
        opts = Options(
            trust=self._trust.trust(),
            at=_at(req.get_param("at"), self._clock),
            timestamp_verifier=self._timestamp_verifier,
        )
        if kind == "application/json":
            report = await asyncio.to_thread(_verify_json, await req.get_media(), opts)
        else:
            report = await asyncio.to_thread(_verify_binary, await req.stream.read(), opts)
        resp.media = report.to_json()


class Router(Protocol):
    """What ``add_routes`` needs of the app's router."""

    def add_route(self, template: str, resource: object) -> None:
        """Add a route."""
        ...


def add_routes(
    router: Router,
    trust: TrustSource,
    clock: Callable[[], datetime],
    timestamp_verifier: TimestampVerifier | None = None,
) -> None:
    """Mount the seal routes; ``timestamp_verifier`` checks embedded RFC 3161 tokens."""
    router.add_route("/seals/verify", SealVerify(trust, clock, timestamp_verifier))
