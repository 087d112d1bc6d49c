"""Wires the audit trail's API: tamper evidence (the integrity service from settings, proof,
heads and reveal routes), search, and the guard the audit resources share."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from pathlib import Path

import falcon.asgi

from anbao.settings import Environment, Settings
from anbao.web.openapi import Api
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.feature import Feature, OnShutdown
from anbao.wiring.search import add_search_routes
from audit.integrity import resources as integrity_resources
from audit.integrity.ports import IntegrityLog
from audit.integrity.postgres import PostgresIntegrityLog
from audit.integrity.service import HeadTicker, IntegrityService
from audit.integrity.setup import IntegrityConfig, build_field_cipher, build_integrity
from audit.model import Outcome, ResourceRef, UserInfo
from audit.ports import AuditStore
from audit.recording.recorder import Recorder
from audit.search.saved import SavedSearches
from audit.search.saved_sql import SqlSavedSearches
from audit.sensitive.service import REVEAL_ACTION, Actor, RevealService
from iam.errors import IamError
from iam.orgs.scope import canonical_path
from iam.tokens.falcon import Authorized, client_ip, guard


def build_audit_integrity(settings: Settings, clock: Callable[[], float]) -> IntegrityService:
    """The integrity service of this node: on one machine the SQLite log of
    ``audit_integrity.log_path``; in a cluster the one log every node shares in PostgreSQL
    (:mod:`audit.integrity.postgres`), where this node signs heads only for its own streams."""
    ai = settings.audit_integrity
    log: IntegrityLog | None = None
    owns = None
    if settings.cluster.clustered:
        log = PostgresIntegrityLog(cluster_engine(settings))
        owns = functools.partial(owned_by, settings.cluster.node_id)
    return build_integrity(
        IntegrityConfig(
            log_path=ai.log_path,
            signing_key_file=ai.signing_key_file,
            signing_key_password=ai.signing_key_password.reveal(),
            trusted_key_files=tuple(
                f.strip() for f in ai.trusted_key_files.split(",") if f.strip()
            ),
            every_events=ai.head_every_events,
            every_seconds=ai.head_every_seconds,
            create_missing=settings.environment is Environment.DEVELOPMENT,
        ),
        clock,
        log=log,
        owns=owns,
    )


def owned_by(node_id: str, stream: str) -> bool:
    """Whether ``stream`` is one the node ``node_id`` writes (``<stream>.<node_id>``)."""
    return stream.endswith("." + node_id)


def integrity_location(settings: Settings) -> tuple[str, str]:
    """The setting that names where the integrity log is, and its value (for the CLI's checks)."""
    if settings.cluster.clustered:
        return "cluster.database_url", settings.cluster.database_url.reveal()
    return "audit_integrity.log_path", settings.audit_integrity.log_path


def _audit_actor(caller: Authorized) -> Actor:
    """The audit resources' caller: its scope is its live org binding, never the token's
    ``org_path`` claim, which is kept only to attribute the caller's own events."""
    principal = caller.principal
    return Actor(
        principal.subject,
        principal.username,
        tuple(sorted(principal.roles)),
        principal.org_path,
        caller.source_ip,
        scope_path=caller.scope.filter_path,
    )


#: The audit resources' authorization (:func:`iam.tokens.falcon.guard`).
audit_guard = guard(_audit_actor)


def reveal_refusals(recorder: Recorder) -> integrity_resources.RevealRefused:
    """Records a reveal the guard refused to a signed-in person (a missing role or step-up) as
    ``audit.pii.reveal`` failure, the ``pii_reveal_refused`` detection's event; an anonymous
    request is the API middleware's (``api_denied``)."""

    async def refused(req: falcon.asgi.Request, event_id: str, exc: Exception) -> None:
        principal = getattr(req.context, "principal", None)
        if principal is None or not isinstance(exc, IamError):
            return
        event = recorder.event(
            REVEAL_ACTION,
            Outcome.FAILURE,
            category=("iam",),
            type=("access", "denied"),
            reason=exc.code,
            user=UserInfo(principal.subject, principal.username, tuple(sorted(principal.roles))),
            org_path=principal.org_path if canonical_path(principal.org_path) else "",
            source_ip=client_ip(req),
            resource=ResourceRef("audit_event", event_id),
            labels={"fields": "all"},
        )
        await recorder.arecord_event(event)

    return refused


def feature(
    settings: Settings,
    integrity: IntegrityService,
    audit_store: AuditStore,
    recorder: Recorder | None,
) -> Feature:
    """Proof, heads and reveal routes; tree heads signed in the background while serving.

    Reveal is served wherever a recorder can audit it first (the platform's own, or the one
    a test passes): a reveal nobody records is not offered.
    """
    reveal = None
    if recorder is not None:
        cipher = build_field_cipher(
            settings.audit_integrity.field_keyring_file,
            create_missing=settings.environment is Environment.DEVELOPMENT,
        )
        reveal = RevealService(audit_store, cipher, recorder)
    refused = reveal_refusals(recorder) if recorder is not None else None

    def routes(api: Api) -> None:
        integrity_resources.add_routes(
            api,
            integrity=integrity,
            store=audit_store,
            guard=audit_guard,
            reveal=reveal,
            on_reveal_refused=refused,
        )

    return Feature(
        "audit integrity",
        routes=routes,
        lifespan=(
            integrity_resources.HeadTickerLifespan(HeadTicker(integrity)),
            OnShutdown(integrity.log.close),
        ),
    )


def shared_saved_searches(
    settings: Settings, clock: Callable[[], dt.datetime]
) -> SavedSearches | None:
    """Clustered, the saved searches are in the cluster database, so every node lists them;
    ``None`` on one machine (a SQLite file, :func:`anbao.wiring.search.add_search_routes`)."""
    if not settings.cluster.clustered:
        return None
    return SqlSavedSearches(cluster_engine(settings), clock=clock)


def search_feature(
    settings: Settings, audit_store: AuditStore, clock: Callable[[], dt.datetime]
) -> Feature:
    """``/audit/events`` search, aggregations, export and saved searches (Elasticsearch)."""
    saved = shared_saved_searches(settings, clock)
    return Feature(
        "audit search",
        routes=lambda api: add_search_routes(
            api,
            audit_store,
            guard=audit_guard,
            clock=clock,
            saved_path=Path(settings.audit.sqlite_path).with_name("saved-searches.sqlite3"),
            new_id=lambda: uuid.uuid4().hex,
            saved_store=saved,
        ),
    )
