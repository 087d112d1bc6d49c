"""The seal CA: root, seal-issuing CA, seal maker and TSA certificates, holder certificates, CRLs.

Built on ``crypto.pki`` (RFC 5280 profiles, SM2-with-SM3). The hierarchy::

    Anbao Seal Root CA (pathLen 1)
      └─ Anbao Seal Issuing CA (pathLen 0)  ── publishes the CRL for everything below
           ├─ seal maker certificate (signs SESeal, GB/T 38540 §7.1 "制章人")
           ├─ TSA certificate (critical EKU timeStamping, RFC 3161 §2.3)
           └─ one holder certificate per seal: O = organisation, organizationIdentifier = USCC

Private keys live in a ``KeyStore`` (software SM4-GCM store or a device); certificates,
revocations and CRLs in a :class:`CaRepository` (the seal registry's database). Revocation
writes the entry and re-issues the CRL in the same call, so the CRL served right after a
``revoke`` already lists the certificate (GB/T 38540 §8.3 verification reads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from crypto.errors import CryptoError
from crypto.keystore_ports import KeyStore
from crypto.pki import (
    Certificate,
    CertificateList,
    Profile,
    RevocationReason,
    RevokedCertificate,
    build_crl,
    issue_certificate,
    make_root_ca,
    parse_name,
    seal_holder_name,
)

_PUBLISH_ATTEMPTS = 5


class CaRole(StrEnum):
    """The CA's own certificates, by what they are for."""

    ROOT = "root"
    ISSUING = "issuing"
    MAKER = "maker"
    TSA = "tsa"


class SealCaError(CryptoError):
    """The seal CA is not set up, or a request to it is invalid."""

    code = "seal_ca_error"
    title = "Seal CA operation failed"


@dataclass(frozen=True)
class CaEntity:
    """A certificate of the CA and the key-store id of its private key."""

    role: CaRole
    certificate: Certificate
    key_id: str


class CaRepository(Protocol):
    """Persistence of the CA's certificates, revocations and CRLs."""

    def get_entity(self, role: CaRole) -> CaEntity | None:
        """The stored certificate for ``role``, or None before bootstrap."""
        ...

    def put_entity(self, entity: CaEntity) -> None:
        """Store (insert or replace) a CA certificate."""
        ...

    def add_revocation(self, issuer: CaRole, entry: RevokedCertificate) -> None:
        """Record a revocation (idempotent per serial: the first one stands)."""
        ...

    def revocations(self, issuer: CaRole) -> list[RevokedCertificate]:
        """All revocations by ``issuer``."""
        ...

    def put_crl(self, issuer: CaRole, crl: CertificateList) -> None:
        """Store the newest CRL of ``issuer``."""
        ...

    def latest_crl(self, issuer: CaRole) -> CertificateList | None:
        """The newest stored CRL of ``issuer``."""
        ...


@dataclass(frozen=True)
class CaConfig:
    """Names, lifetimes and the CRL URL written into issued certificates."""

    organization: str = "Anbao"
    crl_url: str = ""
    crl_next_update: timedelta = timedelta(hours=24)
    root_days: int = 7300
    issuing_days: int = 3650
    maker_days: int = 1825
    holder_days: int = 1095


class SealCa:
    """Bootstraps the hierarchy once, issues holder certificates, revokes and publishes CRLs."""

    def __init__(self, repo: CaRepository, keys: KeyStore, config: CaConfig) -> None:
        self._repo = repo
        self._keys = keys
        self._config = config

    def bootstrap(self, now: datetime) -> None:
        """Create whatever of root, issuing CA, maker and TSA does not exist yet (idempotent)."""
        org = self._config.organization
        root = self._repo.get_entity(CaRole.ROOT)
        if root is None:
            ref = self._keys.generate("seal-ca-root")
            name = parse_name(f"/C=CN/O={org}/CN={org} Seal Root CA")
            cert = make_root_ca(
                self._keys.signer(ref.key_id),
                name,
                now=now,
                days=self._config.root_days,
                path_len=1,
            )
            root = CaEntity(CaRole.ROOT, cert, ref.key_id)
            self._repo.put_entity(root)
        issuing = self._repo.get_entity(CaRole.ISSUING)
        if issuing is None:
            issuing = self._issue(
                root, CaRole.ISSUING, "Seal Issuing CA", now, self._config.issuing_days
            )
        for role, title in ((CaRole.MAKER, "Seal Maker"), (CaRole.TSA, "Time-Stamping Authority")):
            if self._repo.get_entity(role) is None:
                self._issue(issuing, role, title, now, self._config.maker_days)
        for role in (CaRole.ROOT, CaRole.ISSUING):
            if self._repo.latest_crl(role) is None:
                self._publish(role, now)

    def entity(self, role: CaRole) -> CaEntity:
        """A CA certificate and its key id; SealCaError before bootstrap."""
        found = self._repo.get_entity(role)
        if found is None:
            raise SealCaError("the seal CA has not been set up (anbao seal ca init)")
        return found

    def trust_roots(self) -> list[Certificate]:
        """The root certificate verifiers should trust."""
        return [self.entity(CaRole.ROOT).certificate]

    def intermediates(self) -> list[Certificate]:
        """The issuing CA certificate (chain building)."""
        return [self.entity(CaRole.ISSUING).certificate]

    def issue_holder(
        self,
        *,
        organization: str,
        uscc: str,
        public_key: bytes,
        now: datetime,
        days: int | None = None,
        common_name: str | None = None,
    ) -> Certificate:
        """A seal-holder certificate for an organisation, its USCC in the subject."""
        issuing = self.entity(CaRole.ISSUING)
        return issue_certificate(
            issuing.certificate,
            self._keys.signer(issuing.key_id),
            subject=seal_holder_name(organization, uscc, common_name=common_name),
            public_key=public_key,
            now=now,
            days=days or self._config.holder_days,
            profile=Profile.SEAL_HOLDER,
            crl_urls=self._crl_urls(),
        )

    def revoke(
        self, serial: int, *, now: datetime, reason: RevocationReason | None = None
    ) -> CertificateList:
        """Revoke a certificate issued by the issuing CA and publish a new CRL at once."""
        if serial <= 0:
            raise SealCaError("serial must be positive")
        self._repo.add_revocation(CaRole.ISSUING, RevokedCertificate(serial, now, reason))
        # A concurrent publisher may have read the revocations before ours was stored and
        # written after us: publish until the stored CRL lists the serial.
        for _ in range(_PUBLISH_ATTEMPTS):
            self._publish(CaRole.ISSUING, now)
            stored = self._repo.latest_crl(CaRole.ISSUING)
            if stored is not None and serial in {r.serial_number for r in stored.revoked}:
                return stored
        raise SealCaError("the CRL could not be published; retry the revocation")

    def crl(self, now: datetime, issuer: CaRole = CaRole.ISSUING) -> CertificateList:
        """The current CRL; re-issued when the stored one is past half its lifetime."""
        latest = self._repo.latest_crl(issuer)
        if latest is None or latest.next_update is None:
            return self._publish(issuer, now)
        if now >= latest.this_update + (latest.next_update - latest.this_update) / 2:
            return self._publish(issuer, now)
        return latest

    def crls(self, now: datetime) -> list[CertificateList]:
        """Current CRLs of root and issuing CA (what a verifier needs)."""
        return [self.crl(now, CaRole.ROOT), self.crl(now, CaRole.ISSUING)]

    def _crl_urls(self) -> Sequence[str]:
        return (self._config.crl_url,) if self._config.crl_url else ()

    def _issue(
        self, parent: CaEntity, role: CaRole, title: str, now: datetime, days: int
    ) -> CaEntity:
        ref = self._keys.generate(f"seal-ca-{role.value}")
        org = self._config.organization
        profile = Profile.INTERMEDIATE_CA if role is CaRole.ISSUING else Profile.END_ENTITY
        usage = frozenset({"digital_signature", "non_repudiation"}) if role is CaRole.TSA else None
        cert = issue_certificate(
            parent.certificate,
            self._keys.signer(parent.key_id),
            subject=parse_name(f"/C=CN/O={org}/CN={org} {title}"),
            public_key=ref.public_key,
            now=now,
            days=days,
            profile=profile,
            path_len=0 if role is CaRole.ISSUING else None,
            crl_urls=() if role is CaRole.ISSUING else self._crl_urls(),
            key_usage=usage,
            extended_key_usage=("time_stamping",) if role is CaRole.TSA else (),
        )
        entity = CaEntity(role, cert, ref.key_id)
        self._repo.put_entity(entity)
        return entity

    def _publish(self, issuer: CaRole, now: datetime) -> CertificateList:
        entity = self.entity(issuer)
        latest = self._repo.latest_crl(issuer)
        number = 1 if latest is None else (latest.crl_number or 0) + 1
        crl = build_crl(
            entity.certificate,
            self._keys.signer(entity.key_id),
            revoked=self._repo.revocations(issuer),
            now=now,
            next_update=self._config.crl_next_update,
            crl_number=number,
        )
        self._repo.put_crl(issuer, crl)
        return crl


class MemoryCaRepository:
    """In-memory :class:`CaRepository` (tests)."""

    def __init__(self) -> None:
        self._entities: dict[CaRole, CaEntity] = {}
        self._revoked: dict[CaRole, dict[int, RevokedCertificate]] = {}
        self._crls: dict[CaRole, CertificateList] = {}

    def get_entity(self, role: CaRole) -> CaEntity | None:
        """Look up."""
        return self._entities.get(role)

    def put_entity(self, entity: CaEntity) -> None:
        """Store."""
        self._entities[entity.role] = entity

    def add_revocation(self, issuer: CaRole, entry: RevokedCertificate) -> None:
        """First revocation of a serial stands."""
        self._revoked.setdefault(issuer, {}).setdefault(entry.serial_number, entry)

    def revocations(self, issuer: CaRole) -> list[RevokedCertificate]:
        """All entries."""
        return list(self._revoked.get(issuer, {}).values())

    def put_crl(self, issuer: CaRole, crl: CertificateList) -> None:
        """Keep the highest-numbered."""
        current = self._crls.get(issuer)
        if current is None or (crl.crl_number or 0) > (current.crl_number or 0):
            self._crls[issuer] = crl

    def latest_crl(self, issuer: CaRole) -> CertificateList | None:
        """The newest."""
        return self._crls.get(issuer)
