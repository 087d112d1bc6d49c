"""Keycloak's admin API for every part of Anbao: one factory, one status reading, one REST client.

:class:`KeycloakAdmins` builds python-keycloak clients, and the REST layer over a python-keycloak
connection, from one set of :class:`AdminCredentials` (a service account in production);
:func:`failure` reads a status.
"""

from iam.admin.factory import SERVICE_ACCOUNT_ROLES, AdminCredentials, KeycloakAdmins
from iam.admin.failures import Failure, failure
from iam.admin.rest import KeycloakAdminClient

__all__ = [
    "SERVICE_ACCOUNT_ROLES",
    "AdminCredentials",
    "Failure",
    "KeycloakAdminClient",
    "KeycloakAdmins",
    "failure",
]
