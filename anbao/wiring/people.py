"""Wires invitations and activation into the service, and gives the CLI's bootstrap its parts.

``iam`` does not import ``audit``: :class:`RecorderInvitationAudit` adapts the audit recorder
to :class:`iam.invitations.InvitationAudit` (actor = the admin's token subject and name, or
the operator command; target = the person, with their org path). :func:`anbao.wiring.audit.spool_recorder` is the
recorder an operator command writes with: the service's own spool, shipped by the running
service like every other event.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from anbao.settings import Settings
from anbao.web.openapi import Api
from audit.model import ResourceRef, UserInfo
from audit.recording.recorder import Recorder
from iam.invitations import AuditActor, InvitationService
from iam.invitations.resources import add_routes as invitation_routes
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import Person
from iam.orgs.service import OrgService


class RecorderInvitationAudit:
    """``InvitationAudit`` on the audit recorder; returns once the event is durable."""

    def __init__(self, recorder: Callable[[], Recorder]) -> None:
        self._recorder = recorder

    def record(
        self, action: str, actor: AuditActor, target: Person, labels: dict[str, str]
    ) -> None:
        recorder = self._recorder()
        creation = action in {"iam.person.invite", "iam.bootstrap"}
        recorder.record_event(
            recorder.event(
                action,
                "success",
                category=("iam",),
                type=("user", "creation" if creation else "change"),
                user=UserInfo(actor.subject, actor.name),
                org_path=target.org_path,
                resource=ResourceRef("person", target.id, target.username),
                labels=labels | {"target_user_id": target.id},
                stream="iam",
            )
        )


def sign_in_url(settings: Settings) -> str:
    """Where an activated person signs in: Keycloak's account console of the realm, which
    runs the required actions (new password, OTP) first."""
    kc = settings.keycloak
    return f"{kc.url.rstrip('/')}/realms/{kc.realm}/account"


def build_invitations(
    orgs: OrgService,
    recorder: Callable[[], Recorder],
    *,
    clock: Callable[[], float] = time.time,
) -> InvitationService | None:
    """Invitations and activation, where the directory is Keycloak's (credentials live there);
    a test's in-memory directory gives none."""
    directory = orgs.directory
    if not isinstance(directory, KeycloakOrgDirectory):
        return None
    from iam.invitations.keycloak import KeycloakAccounts  # noqa: PLC0415

    return InvitationService(
        orgs, KeycloakAccounts(directory.admin), RecorderInvitationAudit(recorder), clock=clock
    )


def add_routes(api: Api, settings: Settings, service: InvitationService | None) -> None:
    """The invitation and activation routes, when invitations are wired."""
    if service is not None:
        invitation_routes(api, service, sign_in_url=sign_in_url(settings))
