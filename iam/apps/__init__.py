"""App onboarding: registering a government app as a Keycloak OIDC client, and its client roles.

A room of its own because an app is owned by a developer and governed by different rules than
a person in the tree (redirect URIs, client authentication, secrets). Role grants, of platform
roles and of an app's client roles, are reported through the :class:`RoleAudit` port, since
``iam`` may not import ``audit``. Adapters by module: ``iam.apps.keycloak`` (python-keycloak),
``iam.apps.resources`` (Falcon), ``iam.apps.testing``.
"""

from iam.apps.model import (
    CLIENT_ID,
    ROLE_NAME,
    App,
    AppCredentials,
    AppKind,
    AppRegistration,
    AppRole,
    AppUpdate,
    ClientAuth,
    parse_registration,
    parse_update,
)
from iam.apps.roles import AppRoleService
from iam.apps.service import AppDirectory, AppService
from iam.role_audit import NoRoleAudit, RoleAction, RoleAudit, RoleChange

__all__ = [
    "CLIENT_ID",
    "ROLE_NAME",
    "App",
    "AppCredentials",
    "AppDirectory",
    "AppKind",
    "AppRegistration",
    "AppRole",
    "AppRoleService",
    "AppService",
    "AppUpdate",
    "ClientAuth",
    "NoRoleAudit",
    "RoleAction",
    "RoleAudit",
    "RoleChange",
    "parse_registration",
    "parse_update",
]
