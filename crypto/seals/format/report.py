"""The verification report: checks with pass / fail / indeterminate, as JSON and as text.

Overall status (GB/T 38540 §8.3 lists what a verifier checks; the rule here is the usual
one of signature validation policies): any failed check → invalid; otherwise any
indeterminate check → indeterminate; otherwise valid. ``not_applicable`` checks (no
timestamp embedded, a detached signature has no References) do not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of one check."""

    PASS = "pass"  # noqa: S105 - a status word, not a password
    FAIL = "fail"
    INDETERMINATE = "indeterminate"
    NOT_APPLICABLE = "not_applicable"


class Overall(StrEnum):
    """Outcome of a signature, or of a whole document."""

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class Check:
    """One named check, why it came out as it did, and a stable snake_case ``code`` saying
    which rule decided when a machine needs to tell outcomes apart (``no_certificate_chain_found``,
    ``crl_signature_invalid``…; documented in docs/e-seals.md)."""

    name: str
    status: Status
    reason: str
    code: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "status": str(self.status),
            "reason": self.reason,
            "code": self.code,
        }


def overall(statuses: Iterable[Status | Overall]) -> Overall:
    """Worst of the statuses (fail/invalid > indeterminate > pass/valid)."""
    seen = {str(s) for s in statuses}
    if seen & {"fail", "invalid"}:
        return Overall.INVALID
    if "indeterminate" in seen:
        return Overall.INDETERMINATE
    return Overall.VALID


@dataclass(frozen=True)
class SignatureReport:
    """The checks of one seal signature (or of a bare seal)."""

    label: str
    checks: tuple[Check, ...]
    leniencies: tuple[str, ...] = ()
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> Overall:
        """Overall status of this signature."""
        return overall(c.status for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "label": self.label,
            "status": str(self.status),
            "facts": dict(self.facts),
            "leniencies": list(self.leniencies),
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass(frozen=True)
class Report:
    """What ``verify_*`` returns: the input kind, document-level checks, per-signature reports."""

    kind: str
    verified_at: datetime
    checks: tuple[Check, ...] = ()
    signatures: tuple[SignatureReport, ...] = ()

    @property
    def status(self) -> Overall:
        """Overall status: the worst of the document checks and every signature."""
        return overall([*(c.status for c in self.checks), *(s.status for s in self.signatures)])

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (stable keys; documented in docs/e-seals.md)."""
        return {
            "kind": self.kind,
            "status": str(self.status),
            "verified_at": self.verified_at.isoformat(),
            "checks": [c.to_json() for c in self.checks],
            "signatures": [s.to_json() for s in self.signatures],
        }

    def to_text(self) -> str:
        """Readable multi-line summary."""
        marks = {"pass": "ok  ", "fail": "FAIL", "indeterminate": "??  ", "not_applicable": "n/a "}
        lines = [f"{self.kind}: {self.status.upper()} (verified at {self.verified_at.isoformat()})"]
        lines += [f"  [{marks[c.status]}] {c.name}: {c.reason}" for c in self.checks]
        for sig in self.signatures:
            lines.append(f"- {sig.label}: {sig.status.upper()}")
            lines += [f"    {k}: {v}" for k, v in sig.facts.items()]
            lines += [f"    [{marks[c.status]}] {c.name}: {c.reason}" for c in sig.checks]
            lines += [f"    leniency: {note}" for note in sig.leniencies]
        return "\n".join(lines)
