"""Errors of the compliance package: one base class, stable snake_case codes, client-safe text."""

from __future__ import annotations

from collections.abc import Sequence


class PolicyError(Exception):
    """Base of every compliance error; ``code`` is stable, ``detail`` is safe to show."""

    code = "compliance_error"
    title = "Compliance operation failed"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)


class CatalogueInvalid(PolicyError):
    """The control catalogue (policies/catalogue/controls/*.yaml) does not validate; findings name file:line."""

    code = "compliance_catalogue_invalid"
    title = "Control catalogue invalid"

    def __init__(self, findings: Sequence[str]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(self.findings[:5]))


class RunNotFound(PolicyError):
    code = "compliance_run_not_found"
    title = "Compliance run not found"


class WaiverNotFound(PolicyError):
    code = "compliance_waiver_not_found"
    title = "Waiver not found"


class InvalidRequest(PolicyError):
    """A field of a request is missing, malformed or unknown (named in the detail)."""

    code = "compliance_invalid_request"
    title = "Invalid compliance request"

    def __init__(self, detail: str = "", *, field: str = "") -> None:
        super().__init__(detail)
        self.field = field
        self.problem_extra = {"field": field} if field else None


class WaiverSelfApproval(PolicyError):
    """Four-eyes rule: the officer who requested a waiver cannot approve or reject it."""

    code = "compliance_waiver_self_approval"
    title = "The requester cannot decide their own waiver"


class WaiverStateConflict(PolicyError):
    """The waiver is no longer pending (decided, or decided concurrently), or it has expired."""

    code = "compliance_waiver_state_conflict"
    title = "Waiver state conflict"


class NotSignedOff(PolicyError):
    """The run exists, but its report has not been signed off yet: nothing to show."""

    code = "compliance_not_signed_off"
    title = "Report not signed off yet"


class AlreadySigned(PolicyError):
    code = "compliance_already_signed"
    title = "Report already signed off"


class SigningUnavailable(PolicyError):
    code = "compliance_signing_unavailable"
    title = "No report signing key configured"


class ReportSignatureInvalid(PolicyError):
    """The signed report's bytes do not match its detached SM2 signature."""

    code = "compliance_report_signature_invalid"
    title = "Report signature does not verify"


class EvidenceUnavailable(PolicyError):
    """An inspector cannot answer: the part is absent or unreachable (check -> not applicable)."""

    code = "compliance_evidence_unavailable"
    title = "Evidence source unavailable"


class StoreUnavailable(PolicyError):
    code = "compliance_store_unavailable"
    title = "Compliance store unavailable"


class FontUnavailable(PolicyError):
    code = "compliance_pdf_font_unavailable"
    title = "PDF font with Chinese glyphs not found"
