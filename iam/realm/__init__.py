"""Realm as code: a YAML realm file, planned against the live Keycloak realm and converged.

A room of its own because it configures Keycloak (flows, clients, identity providers, the user
profile) rather than serving requests: it runs from ``anbao iam apply``, plans a diff and
applies it idempotently. The Keycloak adapters (``iam.realm.keycloak``, ``keycloak_idp``,
``flows``) are imported by module; this package loads no Keycloak client.
"""

from iam.realm.errors import EventCursorCorrupt, RealmApplyFailed, RealmFileInvalid
from iam.realm.load import load_realm_file
from iam.realm.model import IdentityProvider, Mapper, RealmSpec
from iam.realm.service import ApplyResult, RealmAdmin, converge

__all__ = [
    "ApplyResult",
    "EventCursorCorrupt",
    "IdentityProvider",
    "Mapper",
    "RealmAdmin",
    "RealmApplyFailed",
    "RealmFileInvalid",
    "RealmSpec",
    "converge",
    "load_realm_file",
]
