"""Wires the seal registry into the service: settings, audit trail, identity guard, routes.

``crypto`` is the base package and imports neither ``audit`` nor ``iam``; this composition
root adapts both to the registry's ports: :class:`RecorderAuditTrail` turns each
``SealEvent`` into a durable audit event (ECS, with the document's SM3 hash), and
:func:`seal_guard` turns the verified access token into an ``Actor`` with the RFC 9470 step-up
decided by ``iam.tokens.falcon`` and the caller's live org scope (``iam.tokens.falcon.org_scope``,
the one org-scope authority); :class:`DirectoryOrgTree` lets the registry read org nodes from
the live directory by id or code.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable

import falcon.asgi

from anbao.settings import Settings, SettingsError
from anbao.web.health import Dependency, blocking_probe
from anbao.web.openapi import Api
from anbao.wiring.feature import Feature, OnShutdown
from audit.model import ResourceRef, UserInfo
from audit.recording.recorder import Recorder, current
from crypto.seals import resources as seal_resources
from crypto.seals.format.trust import Trust
from crypto.seals.registry import resources as registry_resources
from crypto.seals.registry.build import Registry, RegistryConfig, build_registry
from crypto.seals.registry.model import SIGN_ACR, Actor, OrgUnit, SealEvent
from crypto.seals.registry.ports import AuditTrail, OrgTree
from crypto.seals.tsa.verify import timestamp_verifier
from iam.orgs.errors import InvalidOrgInput, OrgNotFound
from iam.orgs.model import OrgNode
from iam.orgs.ports import OrgDirectory
from iam.tokens.falcon import Requirement, acr_satisfies, org_scope

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


async def seal_guard(req: falcon.asgi.Request, any_role: frozenset[str], acr: str | None) -> Actor:
    """The registry's authorization: one of ``any_role``; ``acr`` when signing (401 + challenge).

    The actor's org scope is the live binding (resolved once per request), never the token's
    ``org_path`` claim (kept for the audit record only).
    """
    credential = getattr(req.context, "credential", None)
    levels = getattr(credential, "acr_levels", None)
    principal = Requirement(any_role=any_role, acr=acr).check(
        getattr(req.context, "principal", None), acr_levels=levels
    )
    try:
        source_ip = str(ipaddress.ip_address(req.remote_addr or ""))
    except ValueError:
        source_ip = ""
    return Actor(
        subject=principal.subject,
        username=principal.username,
        roles=principal.roles,
        org_path=principal.org_path,
        stepped_up=acr_satisfies(principal.acr, SIGN_ACR, levels),
        source_ip=source_ip,
        scope=await org_scope(req),
    )


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


def registry_config(settings: Settings) -> RegistryConfig:
    """Settings -> the registry's plain configuration."""
    s = settings.seals
    return RegistryConfig(
        database_url=s.database_url.reveal(),
        kek=s.kek.reveal(),
        tsa_enabled=s.tsa_enabled,
        organization=s.organization,
        crl_url=s.crl_url,
        crl_next_update=dt.timedelta(hours=s.crl_next_update_hours),
        auto_migrate=s.auto_migrate,
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
    return build_registry(registry_config(settings), trail, clock, orgs)


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
