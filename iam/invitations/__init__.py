"""Giving people credentials: invitations (e-mail or one-time link), activation, bootstrap.

A room of its own, beside the org tree it serves, because handing out credentials is a
different risk from placing a person: a link that must expire and be used once, the first
administrator's bootstrap, and an audited act for each. Adapters by module:
``iam.invitations.keycloak`` (accounts), ``iam.invitations.resources`` (Falcon).
"""

from iam.invitations.errors import (
    ActivationExpired,
    ActivationInvalid,
    AdminExists,
    AlreadyActivated,
)
from iam.invitations.model import (
    CONFIGURE_TOTP,
    UPDATE_PASSWORD,
    Credentials,
    Delivery,
    Invitation,
    PendingLink,
    required_actions,
)
from iam.invitations.ports import Accounts, AuditActor, InvitationAudit
from iam.invitations.service import (
    BOOTSTRAP_ACTOR,
    InvitationService,
    bootstrap,
    provision,
)
from iam.orgs.model import INVITATION_ATTRIBUTE

__all__ = [
    "BOOTSTRAP_ACTOR",
    "CONFIGURE_TOTP",
    "INVITATION_ATTRIBUTE",
    "UPDATE_PASSWORD",
    "Accounts",
    "ActivationExpired",
    "ActivationInvalid",
    "AdminExists",
    "AlreadyActivated",
    "AuditActor",
    "Credentials",
    "Delivery",
    "Invitation",
    "InvitationAudit",
    "InvitationService",
    "PendingLink",
    "bootstrap",
    "provision",
    "required_actions",
]
