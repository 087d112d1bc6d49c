"""Audit-trail checks (GB/T 22239-2019 §8.1.4.3; Cybersecurity Law Art. 21(3); GB/T 39786 §8.4 e/g)."""

from __future__ import annotations

from datetime import timedelta

from policies.checks.base import Check, Context, finding
from policies.model import Finding
from policies.ports import AuditFacts

#: GB/T 22239-2019 §8.1.4.3 b) (L3-CES1-13): date and time, user, event type, outcome.
REQUIRED_FIELDS = ("timestamp", "user", "action", "outcome", "source_ip", "type")
RETENTION_DAYS = 180  # Cybersecurity Law Art. 21(3): no less than six months


def route_coverage(facts: AuditFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-12: every platform route is recorded (health and metrics probes excepted)."""
    exempt = set(ctx.param("exempt_routes", ("/healthz", "/readyz", "/metrics")))
    recorded = set(facts.recorded_routes)
    missing = sorted(r for r in facts.routes if r not in recorded and r not in exempt)
    return [
        finding("audit.recorded_routes", f"{len(recorded)} of {len(facts.routes)} routes",
                "every route but probes", not missing, f"unrecorded: {missing}" if missing else ""),
    ]  # fmt: skip


def record_fields(facts: AuditFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-13: a record holds date/time, user, event type and outcome."""
    missing = sorted(set(REQUIRED_FIELDS) - set(facts.record_fields))
    return [finding("audit.model.AuditEvent fields", f"missing {missing}" if missing else "all",
                    f"includes {list(REQUIRED_FIELDS)}", not missing)]  # fmt: skip


def retention(facts: AuditFacts, ctx: Context) -> list[Finding]:
    """Cybersecurity Law Art. 21(3): network logs kept for no less than six months."""
    days = facts.retention_days
    return [finding("audit.retention_days", days, f">= {RETENTION_DAYS}", days >= RETENTION_DAYS)]


def tamper_evidence(facts: AuditFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-14 / GB/T 39786 §8.4 g): signed tree heads on, last verification passed and recent."""
    max_age = timedelta(hours=float(ctx.param("verification_max_age_hours", 24)))
    at = facts.last_verification_at
    recent = at is not None and ctx.now - at <= max_age
    return [
        finding("audit_integrity.signing_key_file", facts.integrity_enabled, "configured",
                facts.integrity_enabled),
        finding("audit verify (last)", facts.last_verification_ok, "passed",
                facts.last_verification_ok is True, facts.last_verification_detail),
        finding("audit verify (time)", at.isoformat() if at else None,
                f"within {max_age}", recent),
    ]  # fmt: skip


def sensitive_encrypted(facts: AuditFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-28 / GB/T 39786 §8.4 e): personal data in records is encrypted (SM4)."""
    ok = facts.sensitive_encryption.upper().startswith("SM4") and bool(facts.sensitive_fields)
    return [finding("audit_integrity.field_keyring_file", facts.sensitive_encryption or "off",
                    "SM4-GCM over " + ", ".join(facts.sensitive_fields), ok)]  # fmt: skip


CHECKS = (
    Check("audit.route_coverage", "audit", "Every API route recorded", route_coverage),
    Check("audit.record_fields", "audit", "Records hold time, user, type, outcome", record_fields),
    Check("audit.retention", "audit", "Kept for at least 180 days", retention),
    Check("audit.tamper_evidence", "audit", "Signed heads verified recently", tamper_evidence),
    Check("audit.sensitive_encrypted", "audit", "Personal data encrypted with SM4",
          sensitive_encrypted),
)  # fmt: skip
