"""Errors of invitations, activation and bootstrap (stable codes; no token ever in a message).

They extend :mod:`iam.errors`, so the composition root's table maps them: conflicts 409,
unknown, used or expired activation links 404 (the public page renders its own answer).
"""

from __future__ import annotations

from iam.errors import Conflict, NotFound


class AdminExists(Conflict):
    """``anbao iam bootstrap`` runs once: a platform-admin exists already."""

    code = "platform_admin_exists"
    title = "A platform-admin exists"


class AlreadyActivated(Conflict):
    """Resend or revoke of a person who has set a password: the invitation is over."""

    code = "already_activated"
    title = "The person has activated their account"


class ActivationInvalid(NotFound):
    """An unknown, used or malformed activation link (indistinguishable on purpose)."""

    code = "activation_invalid"
    title = "Activation link not valid"


class ActivationExpired(NotFound):
    """The link was genuine but its time is over; the admin sends a new one."""

    code = "activation_expired"
    title = "Activation link expired"
