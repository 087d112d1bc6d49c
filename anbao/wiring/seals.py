"""Wires the seal registry into the service: settings, audit trail, identity guard, routes.

``crypto`` is the base package and imports neither ``audit`` nor ``iam``; this composition
root adapts both to the registry's ports: :class:`RecorderAuditTrail` turns each
``SealEvent`` into a durable audit event (ECS, with the document's SM3 hash), and
:func:`seal_guard` turns the verified access token into an ``Actor`` with the RFC 9470 step-up
decided by ``iam.tokens.falcon.guard`` and the caller's live org scope (``iam.tokens.falcon.org_scope``,
the one org-scope authority); :class:`DirectoryOrgTree` lets the registry read org nodes from
the live directory by id or code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from anbao.settings import Settings, SettingsError
from anbao.web.health import Dependency, blocking_probe
from anbao.web.openapi import Api
from anbao.wiring.feature import Feature, OnShutdown
from audit.model import ResourceRef, UserInfo
from audit.recording.recorder import Recorder, current
from audit.sql.engine import Migrations, create_engine
from crypto.seals import resources as seal_resources
from crypto.seals.format.trust import Trust
from crypto.seals.registry import resources as registry_resources
from crypto.seals.registry.build import Registry, RegistryConfig, build_registry
from crypto.seals.registry.errors import SealDatabaseError
from crypto.seals.registry.migrations import SCRIPTS, VERSION_TABLE
from crypto.seals.registry.model import SIGN_ACR, Actor, OrgUnit, SealEvent
from crypto.seals.registry.ports import AuditTrail, OrgTree
from crypto.seals.tsa.verify import timestamp_verifier
from iam.orgs.errors import InvalidOrgInput, OrgNotFound
from iam.orgs.model import OrgNode
from iam.orgs.ports import OrgDirectory
from iam.tokens.falcon import Authorized, guard

_TRANSITION_TYPES: tuple[str, ...] = ("change",)
_USE_TYPES: tuple[str, ...] = ("access",)


class RecorderAuditTrail:
    """``AuditTrail`` on the audit recorder; waits until the event is durable (fail closed)."""

    def __init__(self, recorder: Callable[[], Recorder]) -> None:
        self._recorder = recorder

    def record(self, event: SealEvent) -> None:
        """Record one seal event as an ECS audit event."""
        recorder = self._recorder()
        use = event.action == "seal.sign"
        types = _USE_TYPES if use else _TRANSITION_TYPES
        if event.outcome != "success":
            types = (*types, "denied")
        labels = dict(event.labels)
        if event.document_sm3:
            labels["document_sm3"] = event.document_sm3
        recorder.record_event(
            recorder.event(
                event.action,
                event.outcome,
                category=("file",) if use else ("configuration",),
                type=types,
                reason=event.reason,
                user=UserInfo(
                    event.actor.subject, event.actor.username, tuple(sorted(event.actor.roles))
                ),
                org_path=event.org_path,
                source_ip=event.actor.source_ip,
                resource=ResourceRef("seal", event.seal_id, labels.get("es_id", "")),
                labels=labels,
            )
        )


class DirectoryOrgTree:
    """``OrgTree`` on the org directory: a node by id, else by code; read live every time."""

    def __init__(self, directory: OrgDirectory) -> None:
        self._directory = directory

    def node(self, ref: str) -> OrgUnit | None:
        """The node, or None (unknown, or an id the directory refuses)."""
        try:
            found: OrgNode | None = self._directory.get_node(ref) or self._directory.find_node(ref)
        except (InvalidOrgInput, OrgNotFound):
            return None
        if found is None:
            return None
        return OrgUnit(
            id=found.id,
            code=found.code,
            kind=str(found.kind),
            name=found.name,
            path=found.path,
            disabled=found.disabled,
        )


def _seal_actor(caller: Authorized) -> Actor:
    """The registry's caller: ``stepped_up`` when its sign-in meets ``SIGN_ACR`` (the service
    checks it again); its org scope is the live binding, never the token's ``org_path`` claim
    (kept for the audit record only)."""
    principal = caller.principal
    return Actor(
        subject=principal.subject,
        username=principal.username,
        roles=principal.roles,
        org_path=principal.org_path,
        stepped_up=caller.meets(SIGN_ACR),
        source_ip=caller.source_ip,
        scope=caller.scope,
    )


#: The registry's authorization (:func:`iam.tokens.falcon.guard`).
seal_guard = guard(_seal_actor)


class RegistryTrust:
    """``POST /seals/verify`` trust from the registry's own CA: root, issuing CA, live CRLs."""

    def __init__(self, registry: Registry, clock: Callable[[], dt.datetime]) -> None:
        self._registry = registry
        self._clock = clock

    def trust(self) -> Trust:
        """Current trust material (the CRL is re-read on every call: revocation is immediate)."""
        ca = self._registry.ca
        return Trust(
            roots=tuple(ca.trust_roots()),
            intermediates=tuple(ca.intermediates()),
            crls=tuple(ca.crls(self._clock())),
        )


def _url_error(problem: str) -> SealDatabaseError:
    return SealDatabaseError(f"seals.database_url is {problem}")


#: The registry's Alembic scripts, run by the shared runner (crypto opens no database itself).
SEAL_MIGRATIONS = Migrations(
    SCRIPTS,
    VERSION_TABLE,
    name="seal registry",
    error=SealDatabaseError,
    upgrade_hint="run 'anbao seal db upgrade'",
)


def seal_database(settings: Settings) -> sa.Engine:
    """An engine on seals.database_url, not migrated (``anbao seal db``)."""
    return create_engine(settings.seals.database_url.reveal(), _url_error)


def seal_engine(settings: Settings, *, migrate: bool | None = None) -> sa.Engine:
    """The registry's engine at the shipped schema: migrated when ``migrate`` (default
    seals.auto_migrate), else checked (a database behind is refused)."""
    auto = settings.seals.auto_migrate if migrate is None else migrate
    return SEAL_MIGRATIONS.ready(seal_database(settings), migrate=auto)


def registry_config(settings: Settings) -> RegistryConfig:
    """Settings -> the registry's plain configuration."""
    s = settings.seals
    return RegistryConfig(
        kek=s.kek.reveal(),
        tsa_enabled=s.tsa_enabled,
        organization=s.organization,
        crl_url=s.crl_url,
        crl_next_update=dt.timedelta(hours=s.crl_next_update_hours),
    )


def build_seal_registry(
    settings: Settings,
    recorder: Recorder | None,
    clock: Callable[[], dt.datetime],
    audit: AuditTrail | None = None,
    orgs: OrgTree | None = None,
) -> Registry | None:
    """The registry when ``seals.enabled``; events go to ``recorder`` (or the installed one)."""
    if not settings.seals.enabled:
        return None
    trail = audit or RecorderAuditTrail(lambda: recorder or current())
    return build_registry(registry_config(settings), seal_engine(settings), trail, clock, orgs)


def mount(
    api: registry_resources.Router, registry: Registry, clock: Callable[[], dt.datetime]
) -> None:
    """Add the registry, CA and TSA routes."""
    registry_resources.add_routes(api, registry, seal_guard, clock)


def verify_timestamps(registry: Registry) -> Callable[[bytes, bytes], dt.datetime]:
    """Timestamp verifier for ``POST /seals/verify``: tokens from Anbao's TSA."""
    ca = registry.ca
    return timestamp_verifier(ca.trust_roots(), ca.intermediates())


def build_seal_trust(settings: Settings) -> seal_resources.FileTrust:
    """Trust material of ``POST /seals/verify`` from files (reloaded when they change)."""
    sv = settings.seal_verify
    crls = tuple(p.strip() for p in sv.crl_files.split(",") if p.strip())
    trust = seal_resources.FileTrust(sv.trust_roots_file, sv.intermediates_file, crls)
    try:
        trust.trust()  # fail fast on a missing or malformed file
    except Exception as exc:  # noqa: BLE001 - any failure here is a bad setting, named below
        raise SettingsError(
            "seal_verify.trust_roots_file",
            f"trust material cannot be loaded ({type(exc).__name__}: {exc})",
        ) from None
    return trust


def feature(
    settings: Settings,
    registry: Registry | None,
    *,
    clock: Callable[[], dt.datetime],
    trust: seal_resources.TrustSource | None = None,
) -> Feature:
    """``POST /seals/verify`` always; with a registry (``seals.enabled``) also the registry, CA
    and TSA routes.

    With the registry on, verification trusts its CA (CRLs live) and its TSA, unless a
    ``trust`` source is swapped in; otherwise the ``seal_verify`` files.
    """
    if registry is None:
        files = trust or build_seal_trust(settings)
        return Feature("seals", routes=lambda api: seal_resources.add_routes(api, files, clock))
    own = trust or RegistryTrust(registry, clock)

    def routes(api: Api) -> None:
        seal_resources.add_routes(api, own, clock, verify_timestamps(registry))
        mount(api, registry, clock)

    return Feature(
        "seals",
        routes=routes,
        readiness=(Dependency("seal_registry", blocking_probe(registry.repository.ping)),),
        lifespan=(OnShutdown(registry.close),),
    )
