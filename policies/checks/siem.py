"""SIEM checks: identity detections on, alerts triaged in time (GB/T 22239-2019 §8.1.4.3 a)."""

from __future__ import annotations

from datetime import timedelta

from policies.checks.base import Check, Context, NotApplicable, finding
from policies.model import Finding
from policies.ports import SiemFacts

IDENTITY_TAGS = (
    "attack.credential-access", "attack.credential_access", "attack.t1110",
    "mlps.l3-ces1-01", "mlps.l3-ces1-02", "mlps.l3-ces1-04", "mlps.l3-ces1-07",
)  # fmt: skip


def _identity(tags: tuple[str, ...]) -> bool:
    return any(t.lower().startswith(prefix) for t in tags for prefix in IDENTITY_TAGS)


def identity_rules(facts: SiemFacts, ctx: Context) -> list[Finding]:
    """L3-CES1-12: important security events of identity (brute force, account misuse) detected."""
    rules = [r.rule_id for r in facts.rules if r.enabled and _identity(r.tags)]
    return [finding("siem.rules[identity]", rules, "at least one enabled", bool(rules))]


def triage_sla(facts: SiemFacts, ctx: Context) -> list[Finding]:
    """Alerts are triaged within the configured time per severity (siem.triage_sla)."""
    if not facts.alerts_available:
        raise NotApplicable("no alert store yet")
    if not facts.alerts:
        raise NotApplicable("no alerts in the last 90 days")
    late = []
    for alert in facts.alerts:
        minutes = facts.triage_sla_minutes.get(alert.severity)
        if minutes is None:
            continue
        done = alert.triaged_at or ctx.now
        if done - alert.created_at > timedelta(minutes=minutes):
            late.append(alert.alert_id)
    return [
        finding("siem.triage_sla", f"{len(late)} late of {len(facts.alerts)}", "0 late", not late,
                f"late: {late[:20]}" if late else ""),
    ]  # fmt: skip


CHECKS = (
    Check("siem.identity_rules", "siem", "Identity detection rules enabled", identity_rules),
    Check("siem.triage_sla", "siem", "Alerts triaged within the SLA", triage_sla),
)
