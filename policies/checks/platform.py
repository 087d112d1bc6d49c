"""Adapters of the audit, crypto, SIEM and settings inspectors over the platform's public APIs.

They take plain values and objects (``anbao.wiring.compliance`` builds them from settings), so
this module never reads the environment. A part that is not there raises
:class:`EvidenceUnavailable` with the reason, and its checks report "not applicable".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.model import SENSITIVE_FIELDS, AuditEvent
from policies.errors import EvidenceUnavailable
from policies.ports import (
    AlertFacts,
    AuditFacts,
    CertFacts,
    CrlFacts,
    CryptoFacts,
    RuleFacts,
    SealFacts,
    SettingsFacts,
    SiemFacts,
)

Verify = Callable[[], tuple[bool, str]]


@dataclasses.dataclass(frozen=True, slots=True)
class FixedSettings:
    """The settings inspector: the facts are read once from the typed settings."""

    facts: SettingsFacts

    def inspect(self) -> SettingsFacts:
        return self.facts


@dataclasses.dataclass
class PlatformAudit:
    """Audit facts from the recorder's configuration, the event model and a fresh verification.

    ``verify`` runs ``IntegrityService.verify`` over a recent window (``anbao audit verify``)
    and returns (ok, summary); ``None`` when tamper evidence is not set up.
    """

    routes: Callable[[], Sequence[str]]
    record_requests: bool
    skip_paths: tuple[str, ...]
    retention_days: int
    signing_key_file: str
    field_keyring_file: str
    verify: Verify | None
    clock: Callable[[], datetime]

    def inspect(self) -> AuditFacts:
        routes = tuple(self.routes())
        recorded = (
            tuple(r for r in routes if r not in self.skip_paths) if self.record_requests else ()
        )
        if not routes:
            # Routes unknown outside the server: judge by the skip list alone.
            routes = recorded = tuple(self.skip_paths) if self.record_requests else ("/*",)
        ok: bool | None = None
        detail, at = "tamper evidence not configured", None
        if self.verify is not None:
            at = self.clock()
            ok, detail = self.verify()
        keyring = Path(self.field_keyring_file).is_file() if self.field_keyring_file else False
        return AuditFacts(
            routes=routes,
            recorded_routes=recorded,
            record_fields=tuple(f.name for f in dataclasses.fields(AuditEvent)),
            retention_days=self.retention_days,
            integrity_enabled=bool(self.signing_key_file) and Path(self.signing_key_file).is_file(),
            last_verification_at=at,
            last_verification_ok=ok,
            last_verification_detail=detail,
            sensitive_fields=tuple(sorted(SENSITIVE_FIELDS)),
            sensitive_encryption="SM4-GCM" if keyring else "",
        )


@dataclasses.dataclass
class SealRegistryCrypto:
    """Crypto facts from the seal registry (``crypto.seals.registry.build.Registry``)."""

    registry: Any | None
    clock: Callable[[], datetime]

    def inspect(self) -> CryptoFacts:
        if self.registry is None:
            raise EvidenceUnavailable("the seal registry is not enabled (seals.enabled = false)")
        from crypto.seals.format import decode_seal  # noqa: PLC0415 - only when the registry is on

        reg, now = self.registry, self.clock()
        seals = []
        for record in reg.repository.find(limit=10_000):
            if not record.seal_der:
                continue
            seal = decode_seal(record.seal_der)
            seals.append(SealFacts(record.id, str(record.state), seal.sign_alg, "SM3"))
        certs = [*reg.ca.trust_roots(), *reg.ca.intermediates()]
        return CryptoFacts(
            seals=tuple(seals),
            key_wrapping="SM4-GCM",  # crypto.keystore.SoftwareKeyStore wraps with SM4-GCM only
            keys_plaintext_at_rest=0,
            ca_certificates=tuple(
                CertFacts(c.subject.human_friendly, c.not_before, c.not_after) for c in certs
            ),
            crls=tuple(
                CrlFacts(c.issuer.human_friendly, c.this_update, c.next_update)
                for c in reg.ca.crls(now)
            ),
        )


@dataclasses.dataclass
class PlatformSiem:
    """SIEM facts from the loaded rule set and the alert store (whatever exists of them)."""

    load_rules: Callable[[], Sequence[Any]] | None
    load_alerts: Callable[[], Sequence[AlertFacts]] | None
    sla_minutes: dict[str, int]

    def inspect(self) -> SiemFacts:
        if self.load_rules is None:
            raise EvidenceUnavailable("the SIEM rule set is not available")
        rules = tuple(
            RuleFacts(str(r.id), str(r.title), tuple(r.tags), bool(getattr(r, "enabled", True)))
            for r in self.load_rules()
        )
        alerts = tuple(self.load_alerts()) if self.load_alerts is not None else ()
        return SiemFacts(rules, alerts, dict(self.sla_minutes), self.load_alerts is not None)
