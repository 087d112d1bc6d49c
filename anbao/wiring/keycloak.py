"""Anbao's Keycloak admin credentials from the settings: the one place they are chosen.

Every admin client of the running service comes from :func:`admins`, which signs in as the
service-account client ``keycloak.admin_client_id`` (client credentials, only the realm-management
roles Anbao calls). The master realm's admin password is used by :func:`bootstrap_admins`
(``anbao iam apply``: creating realms and clients needs more than Anbao's own roles) and, in
development only, by :func:`admins` when no admin client secret is set.
"""

from __future__ import annotations

from anbao.settings import Environment, Settings
from iam.admin import AdminCredentials, KeycloakAdmins


def _timeout(settings: Settings) -> float:
    return max(settings.keycloak.timeout_seconds, 10.0)


def admin_credentials(settings: Settings) -> AdminCredentials:
    """The service account; the bootstrap admin in development when no client secret is set."""
    kc = settings.keycloak
    if kc.admin_client_secret or settings.environment is Environment.PRODUCTION:
        return AdminCredentials(
            kc.url,
            client_id=kc.admin_client_id,
            client_secret=kc.admin_client_secret.reveal(),
            timeout=_timeout(settings),
        )
    return bootstrap_credentials(settings)


def bootstrap_credentials(settings: Settings) -> AdminCredentials:
    kc = settings.keycloak
    return AdminCredentials.bootstrap(
        kc.url, kc.admin_username, kc.admin_password.reveal(), _timeout(settings)
    )


def admins(settings: Settings, realm: str = "") -> KeycloakAdmins:
    """Admin clients of ``realm`` (default: keycloak.realm) as Anbao's service account."""
    return KeycloakAdmins(admin_credentials(settings), realm or settings.keycloak.realm)


def bootstrap_admins(settings: Settings, realm: str = "master") -> KeycloakAdmins:
    """The master realm's admin, for ``anbao iam apply`` (realms and clients are created)."""
    return KeycloakAdmins(bootstrap_credentials(settings), realm)
