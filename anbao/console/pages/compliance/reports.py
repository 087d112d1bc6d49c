"""A run's reports, downloaded through the console, and its signature checked in the console.

The browser holds no token, so a report link cannot point at the API: the console asks the API
with the person's token and passes the answer on as it came (bytes, content type and
``Content-Disposition``), so an auditor downloads exactly the bytes the officer signed.

Verification follows ``anbao compliance verify-report``: the issued PDF's bytes, the detached
SM2 signature (SM2 with SM3, GB/T 32918.2, GM/T 0009's default user ID) and the officer's public
key, all from the API; the console checks the signature itself and that the PDF's SHA-256 is the
one recorded at sign-off. The key's fingerprint (SHA-256 of its SubjectPublicKeyInfo) is shown
so an assessor can compare it with the key the officer published.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from typing import Any

import falcon
import falcon.asgi

from anbao.console.api import ApiClient
from anbao.console.pages.compliance.common import READERS, plain_id
from anbao.console.web import Page, View
from crypto.errors import CryptoError
from policies.errors import ReportSignatureInvalid
from policies.reports import verify_report

#: Formats the console passes on (the API's report formats).
FORMATS = frozenset({"pdf", "html", "json"})
#: Headers of the API's answer the download keeps.
_KEPT = ("content-type", "content-disposition", "content-length")


class ReportDownload(Page):
    """``/console/compliance/runs/{id}/report.{fmt}``: the API's report, as the API sent it."""

    roles = READERS

    async def get(
        self, view: View, req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: str
    ) -> None:
        fmt, run_id = params.get("fmt", ""), params.get("run_id", "")
        if fmt not in FORMATS or not plain_id(run_id):
            raise falcon.HTTPNotFound
        async with view.api() as api:
            answer = await api.call("GET", f"/compliance/runs/{run_id}/report.{fmt}")
        resp.data = answer.content
        resp.content_type = answer.headers.get("content-type", "application/octet-stream")
        disposition = answer.headers.get("content-disposition")
        resp.set_header(
            "Content-Disposition",
            disposition or f'attachment; filename="compliance-{run_id}.{fmt}"',
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Verification:
    """What the run page shows of the issued report's signature."""

    algorithm: str
    signature_valid: bool
    digest_matches: bool
    report_sha256: str
    fingerprint: str
    sealed: bool

    @property
    def verified(self) -> bool:
        return self.signature_valid and self.digest_matches


async def verify(api: ApiClient, run_id: str) -> Verification:
    """Fetch the issued PDF and its signature; check both as an assessor would, offline."""
    signature: dict[str, Any] = await api.get(f"/compliance/runs/{run_id}/signature")
    pdf = (await api.call("GET", f"/compliance/runs/{run_id}/report.pdf")).content
    pem = str(signature.get("public_key_pem", ""))
    try:
        verify_report(pdf, str(signature.get("signature", "")).encode(), pem.encode())
        valid = True
    except (ReportSignatureInvalid, CryptoError, ValueError):
        valid = False
    recorded = str(signature.get("report_sha256", ""))
    return Verification(
        algorithm=str(signature.get("algorithm", "")),
        signature_valid=valid,
        digest_matches=bool(recorded) and hashlib.sha256(pdf).hexdigest() == recorded,
        report_sha256=recorded,
        fingerprint=fingerprint(pem),
        sealed=bool(signature.get("seal_signature")),
    )


def fingerprint(pem: str) -> str:
    """SHA-256 of a PEM public key's DER body, in colon-separated pairs ("" if unreadable)."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return ""
    if not der:
        return ""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
