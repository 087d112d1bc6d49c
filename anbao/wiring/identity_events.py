"""Keycloak's login and admin events into the audit trail, pulled by ``anbao serve`` itself.

Every uvicorn worker starts a puller with the app's lifespan, but only one process of the
deployment pulls: the holder of the ``keycloak-events`` lease (:mod:`anbao.wiring.singleton`).
A killed worker's duty is taken over by another worker (on another node when clustered: the
lease is then in PostgreSQL); ``anbao iam events pull`` takes the same lease, so an operator's pull and the service never read the same stream at
once.

Each page of events goes into the audit spool together with the stream's cursor, in one
transaction (:class:`anbao.wiring.audit.RecorderEventSink`): whatever is killed when, a restart
resumes exactly after the last stored page. From the spool the shipper takes the events to the
store and to the streaming detections like every other audit event.

In a cluster (``cluster.database_url``) the lease moves between nodes, so the cursor is also
kept where every node reads it, PostgreSQL (:class:`iam.events.service.SharedCursorJournal`
over :class:`iam.events.postgres.PostgresCursorStore`): a node that takes the duty over goes on
from the last page any node stored.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from anbao.settings import Settings
from anbao.wiring.audit import RecorderEventSink
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.keycloak import admin_credentials
from anbao.wiring.singleton import SingletonJob, file_lease, job_lease
from audit.errors import AuditError
from audit.lease import Lease
from audit.recording.recorder import Recorder
from audit.sql.engine import Migrations
from audit.sql.sqlite import connect
from iam.errors import IamError
from iam.events.enrich import Enricher
from iam.events.keycloak import KeycloakEventSource
from iam.events.ports import EventJournal
from iam.events.postgres import SCRIPTS, VERSION_TABLE, PostgresCursorStore
from iam.events.service import EventPuller, SharedCursorJournal
from iam.events.sqlite import SqliteCursorStore
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.ports import OrgDirectory
from iam.realm.errors import EventCursorUnavailable

log = logging.getLogger("anbao.iam.events")


def cursor_store(path: Path) -> SqliteCursorStore:
    """The cursor file of an operator's pull to stdout, opened by the platform's SQLite helper."""
    return SqliteCursorStore(path, connect)


#: The shared cursor's Alembic scripts, run by the shared runner (iam opens no database itself).
CURSOR_MIGRATIONS = Migrations(
    SCRIPTS, VERSION_TABLE, name="Keycloak event cursor", error=EventCursorUnavailable
)


def shared_cursor_store(engine: sa.Engine, realm: str) -> PostgresCursorStore:
    """The cluster's cursor of ``realm``, on ``engine`` migrated to the shipped schema (a
    concurrent first start-up by another node may win the race: one failed attempt is retried)."""
    try:
        CURSOR_MIGRATIONS.upgrade(engine)
    except EventCursorUnavailable:
        CURSOR_MIGRATIONS.upgrade(engine)
    return PostgresCursorStore(engine, prefix=f"{realm}:")


def journal_for(settings: Settings, recorder: Recorder, realm: str) -> EventJournal:
    """Pages and cursor into ``recorder``'s spool; in a cluster the cursor also into PostgreSQL."""
    sink = RecorderEventSink(recorder, realm=realm)
    if not settings.cluster.clustered:
        return sink
    return SharedCursorJournal(sink, shared_cursor_store(cluster_engine(settings), realm))


def lease_for(recorder: Recorder, settings: Settings | None = None) -> Lease:
    """The puller's lease: one puller per deployment. In PostgreSQL when ``settings`` are
    clustered; else next to the spool ``recorder`` writes to (one spool per machine)."""
    if settings is not None and settings.cluster.clustered:
        return job_lease(settings, "keycloak-events")
    return file_lease(recorder.spool.config.path, "keycloak-events")


class PullerThread(SingletonJob):
    """Pulls every ``interval`` seconds while this process holds the lease."""

    def __init__(self, puller: EventPuller, lease: Lease, interval: float) -> None:
        super().__init__("keycloak-events", self._pull, lease, interval)
        self.puller = puller
        self._failing = False

    def _pull(self) -> int:
        """One pull: events delivered.

        A failed pull (Keycloak or the spool unavailable) is logged once per failure streak and
        retried at the next tick; the cursor stayed where the last stored page left it.
        """
        try:
            delivered = self.puller.pull_once()
        except (IamError, AuditError) as exc:
            if not self._failing:
                log.warning("Keycloak events not pulled, retrying: %s", exc.detail)
            self._failing = True
            return 0
        if self._failing:
            log.warning("Keycloak events pulled again")
        self._failing = False
        return delivered


def build_puller(
    settings: Settings, recorder: Recorder, directory: OrgDirectory, *, realm: str = ""
) -> EventPuller | None:
    """The realm's puller into ``recorder``'s spool, enriched from ``directory``; None when the
    directory is not Keycloak's (tests) or no admin credentials are configured."""
    if not isinstance(directory, KeycloakOrgDirectory):
        return None
    if not admin_credentials(settings).configured:
        log.warning(
            "keycloak.admin_client_secret is not set: Keycloak's events are not pulled into the"
            " audit trail (set ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET, or keycloak.events_pull = false)"
        )
        return None
    realm = realm or directory.admin.realm
    return EventPuller(
        source=KeycloakEventSource(directory.admin),
        journal=journal_for(settings, recorder, realm),
        realm=realm,
        enrich=Enricher(directory, clock=time.monotonic),
    )


def attach(settings: Settings, recorder: Recorder, directory: OrgDirectory) -> PullerThread | None:
    """The puller, a lifespan job of every worker run by one (``keycloak.events_pull``)."""
    if not settings.keycloak.events_pull:
        return None
    puller = build_puller(settings, recorder, directory)
    if puller is None:
        return None
    return PullerThread(
        puller, lease_for(recorder, settings), settings.keycloak.events_interval_seconds
    )


@contextlib.contextmanager
def leased(recorder: Recorder, settings: Settings | None = None) -> Iterator[bool]:
    """The lease for an operator's pull (``anbao iam events pull``); yields whether it is held."""
    lease = lease_for(recorder, settings)
    try:
        yield lease.try_acquire()
    finally:
        lease.release()
