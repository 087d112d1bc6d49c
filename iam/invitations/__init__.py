"""Giving people credentials: invitations (e-mail or one-time link), activation, bootstrap."""

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
