"""Assemble a registry from plain configuration and a migrated engine: key store, CA, TSA, service.

The composition root (``anbao``) maps its settings onto :class:`RegistryConfig` and supplies
the engine, the audit trail and the clock; the CLI and tests use the same function, so there is one way
to build a working registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from crypto.keystore import KekRing, SoftwareKeyStore
from crypto.seals.ca import CaConfig, CaRole, SealCa, SealCaError
from crypto.seals.format import Options, Trust
from crypto.seals.registry.ports import AuditTrail, OrgTree
from crypto.seals.registry.service import SealService
from crypto.seals.registry.sql import (
    SqlCaRepository,
    SqlSealRepository,
    SqlWrappedKeys,
)
from crypto.seals.tsa.authority import TimeStampAuthority
from crypto.seals.tsa.verify import timestamp_verifier


@dataclass(frozen=True)
class RegistryConfig:
    """Everything the registry needs to know; ``kek`` is ``id:base64[,id:base64…]``."""

    kek: str = field(repr=False)
    tsa_enabled: bool = True
    organization: str = "Anbao"
    crl_url: str = ""
    crl_next_update: timedelta = timedelta(hours=24)


@dataclass
class Registry:
    """The wired registry and the parts routes and the CLI use directly."""

    engine: sa.Engine
    keys: SoftwareKeyStore
    ca: SealCa
    service: SealService
    tsa: TimeStampAuthority | None
    repository: SqlSealRepository

    def verification_options(self, at: datetime) -> Options:
        """Verify against this CA: its root, issuing CA, current CRLs and TSA (when on)."""
        roots = tuple(self.ca.trust_roots())
        intermediates = tuple(self.ca.intermediates())
        crls = tuple(self.ca.crls(at))
        return Options(
            trust=Trust(roots=roots, intermediates=intermediates, crls=crls),
            at=at,
            timestamp_verifier=timestamp_verifier(roots, intermediates),
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


def _bootstrap(ca: SealCa, clock: Callable[[], datetime], attempts: int = 5) -> None:
    """Set up the CA once; several workers starting together: the losers retry and find it."""
    for attempt in range(attempts):
        try:
            ca.bootstrap(clock())
        except SealCaError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
        else:
            return


def build_registry(
    config: RegistryConfig,
    engine: sa.Engine,
    audit: AuditTrail,
    clock: Callable[[], datetime],
    orgs: OrgTree | None = None,
) -> Registry:
    """Bootstrap the CA once and build the service on ``engine``, whose schema the caller has
    brought to the shipped head (:mod:`crypto.seals.registry.migrations`).

    ``orgs`` is the live org tree org-admins are scoped by (None: no org-admin reach).
    """
    keys = SoftwareKeyStore(SqlWrappedKeys(engine), KekRing.parse(config.kek), clock=clock)
    ca = SealCa(
        SqlCaRepository(engine),
        keys,
        CaConfig(
            organization=config.organization,
            crl_url=config.crl_url,
            crl_next_update=config.crl_next_update,
        ),
    )
    _bootstrap(ca, clock)
    tsa = None
    if config.tsa_enabled:
        entity = ca.entity(CaRole.TSA)
        tsa = TimeStampAuthority(keys.signer(entity.key_id), entity.certificate, clock=clock)
    repository = SqlSealRepository(engine)
    service = SealService(
        repository,
        ca,
        keys,
        audit,
        clock=clock,
        timestamper=tsa.timestamper() if tsa is not None else None,
        orgs=orgs,
    )
    return Registry(engine, keys, ca, service, tsa, repository)
