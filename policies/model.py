"""Typed records of compliance: the control catalogue, check findings, runs, waivers, history.

The catalogue is data (``policies/catalogue/controls/*.yaml``, loaded by :mod:`policies.catalogue.load`);
everything here is frozen so a finished run can be stored, diffed and signed as it was.
Standards: GB/T 22239-2019 (MLPS 2.0) level 3 §8.1.4, GB/T 39786-2021 level 3 §8.4, and
Art. 21(3) of the Cybersecurity Law of the PRC (logs kept at least six months).
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any


class Status(enum.StrEnum):
    """Outcome of a check or a control (the assessor's workbook columns)."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    MANUAL = "manual"
    NOT_APPLICABLE = "not_applicable"


@dataclasses.dataclass(frozen=True, slots=True)
class Text:
    """A title or advice in Chinese and English."""

    zh: str
    en: str


@dataclasses.dataclass(frozen=True, slots=True)
class Control:
    """One assessment item, e.g. L3-CES1-01 of GB/T 22239-2019 §8.1.4.1 a)."""

    id: str
    standard: str
    section: str
    clause: str
    title: Text
    requirement: Text
    checks: tuple[str, ...]
    evidence: tuple[str, ...]
    remediation: Text
    manual: bool
    source: str  # file:line the control was read from


@dataclasses.dataclass(frozen=True, slots=True)
class Standard:
    """A catalogue file's standard: code and titles, plus its controls in catalogue order."""

    code: str
    title: Text
    controls: tuple[Control, ...]
    #: 安全类 of the MLPS report (e.g. 安全计算环境); the title when the catalogue gives none.
    category: Text | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Catalogue:
    standards: tuple[Standard, ...]

    def controls(self) -> tuple[Control, ...]:
        return tuple(c for s in self.standards for c in s.controls)

    def control(self, control_id: str) -> Control | None:
        return next((c for c in self.controls() if c.id == control_id), None)


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One observation: the setting looked at, what was seen, what is required, and whether it holds."""

    setting: str
    observed: Any
    expected: str
    ok: bool
    note: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one automated check; ``reason`` explains not-applicable and failures."""

    check: str
    status: Status
    findings: tuple[Finding, ...]
    reason: str
    checked_at: datetime


class WaiverState(enum.StrEnum):
    """Four-eyes life cycle of a waiver (the SIEM response actions' shape)::

    pending ──approve (another officer)──▶ approved
       └─────reject (another officer)───▶ rejected
    """

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclasses.dataclass(frozen=True, slots=True)
class Officer:
    """A person acting, from a verified token: ``name`` is shown (the username), ``subject``
    (the token's ``sub``) tells persons apart: a username may be renamed or be missing from
    one client's tokens, the subject stays."""

    name: str
    subject: str

    def same_as(self, name: str, subject: str) -> bool:
        """Either identifier matching counts (legacy records have no subject)."""
        return (bool(subject) and subject == self.subject) or name == self.name


@dataclasses.dataclass(frozen=True, slots=True)
class Waiver:
    """An accepted risk: a failing control counts as waived while approved and unexpired.

    Requester and decider are users of verified tokens, never typed names; they differ (four
    eyes). ``legacy_approver`` keeps the free-text approver of a waiver made before approvals
    rested on an identity (migration 0002): it is shown, never counted as an approval.
    """

    id: str
    control_id: str
    justification: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    requested_by_id: str = ""
    state: WaiverState = WaiverState.PENDING
    decided_by: str = ""
    decided_by_id: str = ""
    decided_at: datetime | None = None
    reason: str = ""
    legacy_approver: str = ""

    def active(self, at: datetime) -> bool:
        """Approved before ``at`` and not yet expired (expired ones need a new request)."""
        return (
            self.state is WaiverState.APPROVED
            and self.decided_at is not None
            and self.decided_at <= at < self.expires_at
        )

    def evolve(self, **changes: Any) -> Waiver:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True, slots=True)
class ControlResult:
    control_id: str
    status: Status
    checks: tuple[CheckResult, ...]
    waiver_id: str = ""

    @property
    def waived(self) -> bool:
        return bool(self.waiver_id) and self.status is Status.FAIL


@dataclasses.dataclass(frozen=True, slots=True)
class SignerCertificate:
    """Who the sign-off key belongs to, as its X.509 certificate says (shown in the report's
    signature block; the signature itself is checked against ``SignOff.public_key_pem``)."""

    subject: str
    serial: str  # hexadecimal, as assessors and ``openssl x509 -serial`` read it
    issuer: str
    not_before: datetime
    not_after: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class SignOff:
    """The officer's review: comment, signer, time, and the SM2 signature over the report bytes."""

    officer: str
    comment: str
    signed_at: datetime
    report_sha256: str
    public_key_pem: str
    certificate: SignerCertificate | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Assessee:
    """The assessed system as the MLPS report's cover names it (GB/T 22239 filing facts)."""

    system_name: str
    organisation: str
    level: int  # MLPS protection level 1..5
    filing_number: str  # 备案编号 given by the public-security filing office ("" = not filed)


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    """One execution of the catalogue against the platform."""

    id: str
    started_at: datetime
    finished_at: datetime
    trigger: str  # "manual" | "schedule" | "api"
    requested_by: str
    results: tuple[ControlResult, ...]
    signoff: SignOff | None = None

    def result(self, control_id: str) -> ControlResult | None:
        return next((r for r in self.results if r.control_id == control_id), None)

    def counts(self) -> dict[str, int]:
        """Per status, with waived failures counted apart (they do not count as failures)."""
        out = {s.value: 0 for s in Status} | {"waived": 0}
        for r in self.results:
            out["waived" if r.waived else r.status.value] += 1
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """A control whose status differs from the previous run."""

    control_id: str
    before: Status | None
    after: Status


@dataclasses.dataclass(frozen=True, slots=True)
class TrendPoint:
    run_id: str
    at: datetime
    status: Status
