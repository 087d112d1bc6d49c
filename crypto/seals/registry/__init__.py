"""The seal registry: the lifecycle of issued e-seals, from application to revocation.

Why here and under this name: the house style allows no new top-level package, and ``crypto``
is where the seal recipes live; ``crypto.seals.format`` is the GB/T 38540 *format* (encode, make,
sign, verify), while this package is the *registry* of seals an organisation holds — a
database of applications and states, the CA and key store behind them, and who may do what.
It depends on ``crypto.seals.format``, ``crypto.seals.ca`` and ``crypto.keystore``, never the reverse,
and on no other domain package: identity arrives as an :class:`~.model.Actor` built by the
composition root, and audit events leave through the :class:`~.ports.AuditTrail` port.

States (issue 6 §3): applied → approved (approver ≠ applicant) → made → active ⇄ suspended
→ revoked, and expired once the validity window has passed.

Re-exported here: the model, errors, ports, rules and use cases. The SQL adapters
(``crypto.seals.registry.sql``, ``tables``, ``migrations``), the composition-time builder
(``build``) and the Falcon resources (``resources``) are imported by module, so importing the
registry loads no database driver or web framework.
"""

from crypto.seals.registry.errors import (
    SealApplicationInvalid,
    SealDatabaseError,
    SealForbidden,
    SealNotFound,
    SealRegistryError,
    SealStateConflict,
    SealStepUpRequired,
    SealUseRefused,
)
from crypto.seals.registry.model import (
    SEAL_ADMIN,
    SEAL_USER,
    SIGN_ACR,
    Actor,
    Application,
    NoReach,
    OrgReach,
    OrgUnit,
    SealEvent,
    SealRecord,
    SealState,
)
from crypto.seals.registry.ports import AuditTrail, OrgTree, SealRepository
from crypto.seals.registry.rules import check_application, check_identity
from crypto.seals.registry.service import SealService

__all__ = [
    "SEAL_ADMIN",
    "SEAL_USER",
    "SIGN_ACR",
    "Actor",
    "Application",
    "AuditTrail",
    "NoReach",
    "OrgReach",
    "OrgTree",
    "OrgUnit",
    "SealApplicationInvalid",
    "SealDatabaseError",
    "SealEvent",
    "SealForbidden",
    "SealNotFound",
    "SealRecord",
    "SealRegistryError",
    "SealRepository",
    "SealService",
    "SealState",
    "SealStateConflict",
    "SealStepUpRequired",
    "SealUseRefused",
    "check_application",
    "check_identity",
]
