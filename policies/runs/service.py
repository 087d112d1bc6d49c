"""Compliance use cases: run the catalogue, waive (four eyes), compare with history, sign off.

No framework here: evidence comes through the inspector ports, reports through a renderer,
signatures through :class:`policies.ports.ReportSigner`; clock and id generator are injected.
A control's status (GB/T 28448-style workbook): ``fail`` if any automated check fails, else
``pass`` if one passes, else ``manual`` when it needs an attestation, else ``not_applicable``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from policies.checks import REGISTRY
from policies.checks.base import Check, Context, NotApplicable
from policies.errors import (
    AlreadySigned,
    EvidenceUnavailable,
    InvalidRequest,
    RunNotFound,
    SigningUnavailable,
    WaiverNotFound,
    WaiverSelfApproval,
    WaiverStateConflict,
)
from policies.model import (
    Catalogue,
    Change,
    CheckResult,
    Control,
    ControlResult,
    Officer,
    Run,
    SignOff,
    Status,
    TrendPoint,
    Waiver,
    WaiverState,
)
from policies.ports import (
    Inspectors,
    IssuedReport,
    ReportSealer,
    ReportSigner,
    RunStore,
    WaiverAudit,
)

log = logging.getLogger(__name__)

Renderer = Callable[[Run], bytes]
#: Bounds of a waiver's free text (a justification is a paragraph; a reason as the SIEM's).
MAX_TEXT = 2000
MAX_REASON = 1000


def control_status(control: Control, checks: Sequence[CheckResult]) -> Status:
    statuses = {c.status for c in checks}
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.PASS in statuses:
        return Status.PASS
    return Status.MANUAL if control.manual else Status.NOT_APPLICABLE


class _Facts:
    """Asks each inspector once per run; remembers why a source could not answer."""

    def __init__(self, inspectors: Inspectors) -> None:
        self._inspectors = inspectors
        self._cache: dict[str, tuple[Any, str]] = {}

    def get(self, source: str) -> tuple[Any, str]:
        if source not in self._cache:
            self._cache[source] = self._ask(source)
        return self._cache[source]

    def _ask(self, source: str) -> tuple[Any, str]:
        inspector = getattr(self._inspectors, source, None)
        if inspector is None:
            return None, f"{source}: this part of the platform is not configured"
        try:
            return inspector.inspect(), ""
        except EvidenceUnavailable as exc:
            return None, f"{source}: {exc.detail}"
        except Exception as exc:
            log.warning("compliance: %s inspector failed", source, exc_info=True)
            return None, f"{source}: evidence could not be collected ({type(exc).__name__})"


def evaluate(check: Check, facts: _Facts, ctx: Context) -> CheckResult:
    data, reason = facts.get(check.source)
    if data is None:
        return CheckResult(check.id, Status.NOT_APPLICABLE, (), reason, ctx.now)
    try:
        findings = tuple(check.run(data, ctx))
    except NotApplicable as exc:
        return CheckResult(check.id, Status.NOT_APPLICABLE, (), exc.reason, ctx.now)
    bad = [f.setting for f in findings if not f.ok]
    status = Status.FAIL if bad else Status.PASS
    return CheckResult(check.id, status, findings, f"not met: {', '.join(bad)}" if bad else "",
                       ctx.now)  # fmt: skip


class ComplianceService:
    def __init__(
        self,
        catalogue: Catalogue,
        inspectors: Inspectors,
        store: RunStore,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        params: dict[str, Any] | None = None,
        signer: ReportSigner | None = None,
        sealer: ReportSealer | None = None,
        audit: WaiverAudit | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.inspectors = inspectors
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.params = params or {}
        self.signer = signer
        self.sealer = sealer
        self.audit = audit

    # -- runs --------------------------------------------------------------------------------

    def run(self, *, trigger: str = "manual", requested_by: str = "") -> Run:
        """Evaluate every control against the live platform and keep the run."""
        started = self.clock()
        ctx = Context(now=started, params=self.params)
        facts = _Facts(self.inspectors)
        results: dict[str, CheckResult] = {}
        waivers = [w for w in self.store.waivers() if w.active(started)]
        out = []
        for control in self.catalogue.controls():
            for check_id in control.checks:
                if check_id not in results:
                    results[check_id] = evaluate(REGISTRY[check_id], facts, ctx)
            checks = tuple(results[c] for c in control.checks)
            status = control_status(control, checks)
            waiver = next((w.id for w in waivers if w.control_id == control.id), "")
            out.append(ControlResult(control.id, status, checks,
                                     waiver if status is Status.FAIL else ""))  # fmt: skip
        run = Run(self.new_id(), started, self.clock(), trigger, requested_by, tuple(out))
        self.store.add_run(run)
        return run

    def get(self, run_id: str) -> Run:
        run = self.store.get_run(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        return run

    def runs(self, limit: int = 50) -> list[Run]:
        return self.store.runs(limit)

    def previous(self, run: Run) -> Run | None:
        older = [r for r in self.store.runs(1000) if r.started_at < run.started_at]
        return older[0] if older else None

    def diff(self, run: Run, previous: Run | None = None) -> list[Change]:
        """Controls whose status changed since the previous run (all of them for the first run)."""
        prev = previous if previous is not None else self.previous(run)
        before = {r.control_id: r.status for r in prev.results} if prev else {}
        return [
            Change(r.control_id, before.get(r.control_id), r.status)
            for r in run.results
            if before.get(r.control_id) is not r.status
        ]

    def trend(self, run: Run, limit: int = 12) -> dict[str, list[TrendPoint]]:
        """Per control, its status over the last ``limit`` runs up to ``run``, oldest first."""
        history = [r for r in self.store.runs(1000) if r.started_at <= run.started_at][:limit]
        out: dict[str, list[TrendPoint]] = {}
        for past in reversed(history):
            for result in past.results:
                out.setdefault(result.control_id, []).append(
                    TrendPoint(past.id, past.started_at, result.status)
                )
        return out

    # -- waivers ------------------------------------------------------------------------------

    def request_waiver(
        self, control_id: str, *, justification: str, expires_at: datetime, officer: Officer
    ) -> Waiver:
        """A compliance officer asks to accept a control's risk until ``expires_at``; the
        waiver counts only once another officer approves it (four eyes, GB/T 22239-2019
        §8.1.4.2 asks that privileged acts are authorised and recorded)."""
        now = self.clock()
        _acting(officer)
        if self.catalogue.control(control_id) is None:
            raise InvalidRequest(f"control_id: unknown control {control_id[:64]!r}",
                                 field="control_id")  # fmt: skip
        if not justification.strip() or len(justification) > MAX_TEXT:
            raise InvalidRequest(f"justification: required, at most {MAX_TEXT} characters",
                                 field="justification")  # fmt: skip
        if expires_at.tzinfo is None or expires_at <= now:
            raise InvalidRequest("expires_at: must be a future time with a zone",
                                 field="expires_at")  # fmt: skip
        waiver = Waiver(self.new_id(), control_id, justification.strip(), officer.name, now,
                        expires_at, requested_by_id=officer.subject)  # fmt: skip
        self.store.put_waiver(waiver)
        self._audit("requested", waiver, officer)
        return waiver

    def approve_waiver(self, waiver_id: str, *, officer: Officer) -> Waiver:
        """Another officer approves a pending, unexpired request; from now on it counts."""
        return self._decide(waiver_id, officer, WaiverState.APPROVED, "")

    def reject_waiver(self, waiver_id: str, *, officer: Officer, reason: str) -> Waiver:
        """Another officer refuses a pending request; the reason is kept."""
        if not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidRequest(f"reason: required, at most {MAX_REASON} characters",
                                 field="reason")  # fmt: skip
        return self._decide(waiver_id, officer, WaiverState.REJECTED, reason.strip())

    def _decide(self, waiver_id: str, officer: Officer, state: WaiverState, reason: str) -> Waiver:
        _acting(officer)
        waiver = self.waiver(waiver_id)
        now = self.clock()
        if waiver.state is not WaiverState.PENDING:
            raise WaiverStateConflict(f"the waiver is {waiver.state.value}, not pending")
        if officer.same_as(waiver.requested_by, waiver.requested_by_id):
            raise WaiverSelfApproval("another compliance officer must decide")
        if state is WaiverState.APPROVED and waiver.expires_at <= now:
            raise WaiverStateConflict("the waiver expired before a decision: request a new one")
        decided = waiver.evolve(state=state, decided_by=officer.name,
                                decided_by_id=officer.subject, decided_at=now, reason=reason)  # fmt: skip
        self.store.decide_waiver(decided)  # a concurrent decision loses here
        self._audit(state.value, decided, officer)
        return decided

    def _audit(self, step: str, waiver: Waiver, officer: Officer) -> None:
        if self.audit is not None:
            self.audit.record(step, waiver, officer)

    def waivers(self) -> list[Waiver]:
        return self.store.waivers()

    def waiver(self, waiver_id: str) -> Waiver:
        found = next((w for w in self.store.waivers() if w.id == waiver_id), None)
        if found is None:
            raise WaiverNotFound(f"no waiver {waiver_id[:64]!r}")
        return found

    def delete_waiver(self, waiver_id: str, *, officer: Officer) -> None:
        """Withdraw a waiver in any state (any officer: taking back an accepted risk needs no
        second person); the audit event keeps what was withdrawn."""
        _acting(officer)
        waiver = self.waiver(waiver_id)
        if not self.store.delete_waiver(waiver_id):
            raise WaiverNotFound(f"no waiver {waiver_id[:64]!r}")
        self._audit("withdrawn", waiver, officer)

    # -- sign-off ------------------------------------------------------------------------------

    def sign_off(self, run_id: str, *, officer: str, comment: str, render: Renderer) -> Run:
        """The officer's review: render the issued report with the sign-off, SM2-sign its bytes."""
        if self.signer is None:
            raise SigningUnavailable("set compliance.signing_key_file")
        run = self.get(run_id)
        if run.signoff is not None:
            raise AlreadySigned(f"run {run_id} was signed by {run.signoff.officer}")
        pending = SignOff(officer, comment, self.clock(), "", self.signer.public_key_pem(),
                          self.signer.certificate())  # fmt: skip
        content = render(_with_signoff(run, pending))
        signature = self.signer.sign(content)
        sealed = self.sealer.seal(content, pending.signed_at) if self.sealer else b""
        digest = hashlib.sha256(content).hexdigest()
        signed = _with_signoff(run, _replace_digest(pending, digest))
        issued = IssuedReport(run.id, "application/pdf", content, signature, sealed)
        self.store.set_signoff(signed, issued)
        return signed

    def issued(self, run_id: str) -> IssuedReport | None:
        self.get(run_id)
        return self.store.issued(run_id)


def _acting(officer: Officer) -> None:
    """Every waiver act is a person's: both identifiers of a verified token are needed."""
    if not (officer.name and officer.subject):
        raise InvalidRequest("officer: an authenticated officer (token subject and name)",
                             field="officer")  # fmt: skip


def _with_signoff(run: Run, signoff: SignOff) -> Run:
    return Run(run.id, run.started_at, run.finished_at, run.trigger, run.requested_by,
               run.results, signoff)  # fmt: skip


def _replace_digest(s: SignOff, digest: str) -> SignOff:
    return dataclasses.replace(s, report_sha256=digest)
