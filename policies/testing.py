"""In-memory fakes of the compliance ports, and facts of a realm converged from the realm file.

:func:`good_realm` mirrors what deploy/keycloak/anbao-realm.yaml sets (the integration test
checks the real one); tests weaken copies of it with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from policies.errors import (
    AlreadySigned,
    EvidenceUnavailable,
    RunNotFound,
    WaiverNotFound,
    WaiverStateConflict,
)
from policies.model import Officer, Run, Waiver, WaiverState
from policies.ports import (
    AuditFacts,
    FlowStep,
    IssuedReport,
    RealmFacts,
    SettingsFacts,
    SiemFacts,
    UserFacts,
)

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ADMIN_COMPOSITES = frozenset({"otp-required"})


def good_realm(**changes: Any) -> RealmFacts:
    facts = RealmFacts(
        realm="anbao",
        password_policy=(  # noqa: S106 - a Keycloak policy string, not a password
            "digits(1) and length(8) and lowerCase(1) and notUsername and passwordHistory(5)"
            " and specialChars(1) and upperCase(1)"
        ),
        brute_force_protected=True,
        failure_factor=5,
        permanent_lockout=False,
        max_failure_wait_seconds=900,
        sso_idle_timeout_seconds=1800,
        ssl_required="external",
        events_enabled=True,
        event_types=("LOGIN", "LOGIN_ERROR", "LOGOUT", "UPDATE_PASSWORD"),
        admin_events_enabled=True,
        admin_events_details=True,
        events_expiration_seconds=15552000,
        otp_marker_role="otp-required",
        role_composites={
            "otp-required": frozenset(),
            "platform-admin": ADMIN_COMPOSITES,
            "org-admin": ADMIN_COMPOSITES,
            "seal-admin": ADMIN_COMPOSITES,
            "auditor": frozenset(),
        },
        browser_flow="anbao browser",
        browser_steps=(
            FlowStep(
                "anbao admin otp",
                "conditional-user-role",
                "REQUIRED",
                (("condUserRole", "otp-required"), ("negate", "false")),
            ),
            FlowStep("OTP Form", "auth-otp-form", "REQUIRED"),
        ),
        users=(
            UserFacts(
                "ops-lead", True, frozenset({"platform-admin", "otp-required"}), True, (), T0
            ),
            UserFacts("zhang.san", True, frozenset({"auditor"}), False, (), T0),
        ),
        frontend_url="",
    )
    return dataclasses.replace(facts, **changes)


def good_audit(**changes: Any) -> AuditFacts:
    facts = AuditFacts(
        routes=("/healthz", "/audit/events", "/compliance/runs"),
        recorded_routes=("/audit/events", "/compliance/runs"),
        record_fields=("id", "timestamp", "action", "outcome", "type", "user", "source_ip"),
        retention_days=365,
        integrity_enabled=True,
        last_verification_at=T0,
        last_verification_ok=True,
        last_verification_detail="1 stream(s), 10 event(s)",
        sensitive_fields=("id_number", "phone"),
        sensitive_encryption="SM4-GCM",
    )
    return dataclasses.replace(facts, **changes)


def dev_settings(**changes: Any) -> SettingsFacts:
    facts = SettingsFacts("development", False, False, "http://127.0.0.1:8080")
    return dataclasses.replace(facts, **changes)


def siem(**changes: Any) -> SiemFacts:
    from policies.ports import RuleFacts  # noqa: PLC0415

    facts = SiemFacts(
        rules=(RuleFacts("r1", "Password spraying", ("attack.credential-access",), True),),
        alerts=(),
        triage_sla_minutes={"high": 60},
    )
    return dataclasses.replace(facts, **changes)


@dataclasses.dataclass
class Static:
    """An inspector returning fixed facts (or raising EvidenceUnavailable when ``facts`` is None)."""

    facts: Any
    reason: str = "not there"

    def inspect(self) -> Any:
        if self.facts is None:
            raise EvidenceUnavailable(self.reason)
        return self.facts


class MemoryRunStore:
    """:class:`policies.ports.RunStore` in a dict (unit tests)."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._issued: dict[str, IssuedReport] = {}
        self._waivers: dict[str, Waiver] = {}

    def add_run(self, run: Run) -> None:
        self._runs[run.id] = run

    def get_run(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def runs(self, limit: int = 100) -> list[Run]:
        ordered = sorted(self._runs.values(), key=lambda r: (r.started_at, r.id), reverse=True)
        return ordered[:limit]

    def set_signoff(self, run: Run, report: IssuedReport) -> None:
        if run.id not in self._runs:
            raise RunNotFound
        if self._runs[run.id].signoff is not None:
            raise AlreadySigned
        self._runs[run.id] = run
        self._issued[run.id] = report

    def issued(self, run_id: str) -> IssuedReport | None:
        return self._issued.get(run_id)

    def put_waiver(self, waiver: Waiver) -> None:
        self._waivers[waiver.id] = waiver

    def decide_waiver(self, waiver: Waiver) -> None:
        stored = self._waivers.get(waiver.id)
        if stored is None:
            raise WaiverNotFound
        if stored.state is not WaiverState.PENDING:
            raise WaiverStateConflict
        self._waivers[waiver.id] = waiver

    def delete_waiver(self, waiver_id: str) -> bool:
        return self._waivers.pop(waiver_id, None) is not None

    def waivers(self) -> list[Waiver]:
        return list(self._waivers.values())


class MemoryWaiverAudit:
    """:class:`policies.ports.WaiverAudit` in a list of (step, waiver id, officer name)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str, str]] = []

    def record(self, step: str, waiver: Waiver, officer: Officer) -> None:
        self.steps.append((step, waiver.id, officer.name))
