"""One port per evidence source, so every check runs against plain facts (testable without servers).

Each inspector returns a frozen snapshot of what it saw, or raises
:class:`policies.errors.EvidenceUnavailable` with a reason when its part of the platform is not
there (the checks then report "not applicable" with that reason).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Protocol

from policies.model import Officer, Run, SignerCertificate, Waiver

# -- identity (Keycloak realm) --------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class UserFacts:
    username: str
    enabled: bool
    roles: frozenset[str]  # effective realm roles (composites expanded)
    has_otp: bool  # read for holders of admin or otp-required roles only
    required_actions: tuple[str, ...]
    created_at: datetime | None
    shared: bool = False  # marked as a shared/group account (attribute account_type=shared)
    expires_at: datetime | None = None  # attribute account_expires (ISO date)


@dataclasses.dataclass(frozen=True, slots=True)
class FlowStep:
    """A step of the browser flow, flattened: authenticator or sub-flow, requirement, config."""

    path: str
    authenticator: str
    requirement: str
    config: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class RealmFacts:
    realm: str
    password_policy: str
    brute_force_protected: bool
    failure_factor: int
    permanent_lockout: bool
    max_failure_wait_seconds: int
    sso_idle_timeout_seconds: int
    ssl_required: str
    events_enabled: bool
    event_types: tuple[str, ...]
    admin_events_enabled: bool
    admin_events_details: bool
    events_expiration_seconds: int
    otp_marker_role: str
    role_composites: dict[str, frozenset[str]]
    browser_flow: str
    browser_steps: tuple[FlowStep, ...]
    users: tuple[UserFacts, ...]
    frontend_url: str


class RealmInspector(Protocol):
    def inspect(self) -> RealmFacts: ...


# -- audit ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class AuditFacts:
    routes: tuple[str, ...]  # every route template of the platform API
    recorded_routes: tuple[str, ...]  # those the audit middleware records
    record_fields: tuple[str, ...]  # fields of an audit record
    retention_days: int
    integrity_enabled: bool
    last_verification_at: datetime | None
    last_verification_ok: bool | None
    last_verification_detail: str
    sensitive_fields: tuple[str, ...]
    sensitive_encryption: str  # e.g. "SM4-GCM", "" when off


class AuditInspector(Protocol):
    def inspect(self) -> AuditFacts: ...


# -- crypto ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SealFacts:
    seal_id: str
    state: str
    signature_algorithm: str  # OID of the maker's signature
    digest_algorithm: str


@dataclasses.dataclass(frozen=True, slots=True)
class CertFacts:
    name: str
    not_before: datetime
    not_after: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class CrlFacts:
    issuer: str
    this_update: datetime
    next_update: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class CryptoFacts:
    seals: tuple[SealFacts, ...]
    key_wrapping: str  # e.g. "SM4-GCM"
    keys_plaintext_at_rest: int
    ca_certificates: tuple[CertFacts, ...]
    crls: tuple[CrlFacts, ...]


class CryptoInspector(Protocol):
    def inspect(self) -> CryptoFacts: ...


# -- SIEM ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RuleFacts:
    rule_id: str
    title: str
    tags: tuple[str, ...]
    enabled: bool


@dataclasses.dataclass(frozen=True, slots=True)
class AlertFacts:
    alert_id: str
    severity: str
    created_at: datetime
    triaged_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class SiemFacts:
    rules: tuple[RuleFacts, ...]
    alerts: tuple[AlertFacts, ...]
    triage_sla_minutes: dict[str, int]
    alerts_available: bool = True


class SiemInspector(Protocol):
    def inspect(self) -> SiemFacts: ...


# -- settings / transport -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SettingsFacts:
    environment: str
    tls_cert_configured: bool
    behind_tls_proxy: bool
    keycloak_url: str


class SettingsInspector(Protocol):
    def inspect(self) -> SettingsFacts: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Inspectors:
    """The evidence sources of one run; ``None`` means the part is not wired (not applicable)."""

    realm: RealmInspector | None = None
    audit: AuditInspector | None = None
    crypto: CryptoInspector | None = None
    siem: SiemInspector | None = None
    settings: SettingsInspector | None = None


class WaiverAudit(Protocol):
    """Records each waiver step durably, raising if it cannot (the SIEM responses' pattern):
    the CLI's acts reach the trail too, not only the API's requests."""

    def record(self, step: str, waiver: Waiver, officer: Officer) -> None:
        """``step``: requested | approved | rejected | withdrawn."""
        ...


class ReportSealer(Protocol):
    """Seals report bytes with an electronic seal: a detached SES_Signature (GB/T 38540)."""

    def seal(self, data: bytes, now: datetime) -> bytes: ...


class ReportSigner(Protocol):
    """Signs report bytes (SM2 with SM3, detached DER); ``public_key_pem`` verifies them."""

    def sign(self, data: bytes) -> bytes: ...

    def public_key_pem(self) -> str: ...

    def certificate(self) -> SignerCertificate | None:
        """The key's certificate identity, None when only a bare key is configured."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class IssuedReport:
    """The exact bytes of a signed-off report and the detached SM2 signature over them."""

    run_id: str
    media_type: str
    content: bytes
    signature: bytes
    #: Detached GB/T 38540 SES_Signature over the same bytes, when a report seal is configured.
    seal_signature: bytes = b""


class RunStore(Protocol):
    """Durable runs, waivers and issued reports (SQLite via SQLAlchemy Core: policies.runs.store)."""

    def add_run(self, run: Run) -> None: ...

    def get_run(self, run_id: str) -> Run | None: ...

    def runs(self, limit: int = 100) -> list[Run]:
        """Newest first."""
        ...

    def set_signoff(self, run: Run, report: IssuedReport) -> None:
        """Store the sign-off once; raises AlreadySigned if the run is signed."""
        ...

    def issued(self, run_id: str) -> IssuedReport | None: ...

    def put_waiver(self, waiver: Waiver) -> None: ...

    def decide_waiver(self, waiver: Waiver) -> None:
        """Store a decision if the stored waiver is still pending; else WaiverStateConflict
        (WaiverNotFound if it is gone)."""
        ...

    def delete_waiver(self, waiver_id: str) -> bool: ...

    def waivers(self) -> list[Waiver]: ...
