"""Response actions: what a rule or an analyst asks to be done about an alert, approved, executed.

A room of its own because acting on identities and seals (disable a user, end sessions,
suspend a seal) needs four eyes and a record of its fate, and reaches other packages only
through ports (:class:`IdentityResponder`, :class:`SealResponder`) that the composition root
fills in. Adapters by module: ``siem.responses.keycloak``, ``siem.responses.sqlite``,
``siem.responses.testing``.
"""

from siem.responses.model import SYSTEM_ACTOR, ActionFilter, ActionRecord, ActionState
from siem.responses.ports import ActionStore, IdentityResponder, ResponseAudit, SealResponder
from siem.responses.service import ResponseService, is_final

__all__ = [
    "SYSTEM_ACTOR",
    "ActionFilter",
    "ActionRecord",
    "ActionState",
    "ActionStore",
    "IdentityResponder",
    "ResponseAudit",
    "ResponseService",
    "SealResponder",
    "is_final",
]
