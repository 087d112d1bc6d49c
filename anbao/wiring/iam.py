"""Wires identity: the token verifier, RFC 7662 introspection, the org tree and app onboarding
on Keycloak, from settings (the API's and the CLI's one recipe for each), and the identity
features of the API (apps, the org tree with invitations and analysts' scopes)."""

from __future__ import annotations

import time
from collections.abc import Callable

from anbao.settings import Settings
from anbao.web.openapi import Api
from anbao.wiring import analyst_scope, people
from anbao.wiring.feature import Feature
from anbao.wiring.keycloak import admins
from audit.recording.recorder import Recorder
from iam.apps.keycloak import KeycloakAppDirectory
from iam.apps.resources import add_routes as add_app_routes
from iam.apps.roles import AppRoleService
from iam.apps.service import AppDirectory, AppService
from iam.invitations import InvitationService
from iam.orgs import resources as orgs_resources
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.ports import OrgDirectory
from iam.orgs.service import OrgService
from iam.role_audit import RoleAudit
from iam.tokens.introspection import IntrospectionCache
from iam.tokens.keycloak import KeycloakJwks, issuer_url, keycloak_introspection
from iam.tokens.verifier import TokenVerifier


def build_verifier(settings: Settings, clock: Callable[[], float]) -> TokenVerifier:
    kc = settings.keycloak
    return TokenVerifier(
        issuer=issuer_url(kc.url, kc.realm),
        audience=kc.audience,
        jwks=KeycloakJwks(kc.url, kc.realm, timeout=kc.timeout_seconds),
        clock=clock,
    )


def build_introspection(
    settings: Settings, clock: Callable[[], float]
) -> IntrospectionCache | None:
    """RFC 7662 for high-risk routes; without a client secret they are refused (503), and
    production settings refuse to start without one (:meth:`Settings.validate`)."""
    kc = settings.keycloak
    if not kc.client_secret:
        return None
    return keycloak_introspection(
        kc.url,
        kc.realm,
        client_id=kc.client_id,
        client_secret=kc.client_secret.reveal(),
        clock=clock,
        ttl_seconds=kc.introspection_ttl_seconds,
        timeout=kc.timeout_seconds,
    )


def build_org_directory(settings: Settings) -> KeycloakOrgDirectory:
    """The org tree in Keycloak, administered with Anbao's own admin credentials."""
    return KeycloakOrgDirectory(admins(settings).rest())


def build_app_directory(settings: Settings) -> AppDirectory:
    """App onboarding: apps become OIDC clients through the Keycloak admin API."""
    keycloak = admins(settings)
    return KeycloakAppDirectory(keycloak.lazy(), keycloak.realm)


def build_app_service(
    settings: Settings, apps: AppDirectory, clock: Callable[[], float] = time.time
) -> AppService:
    """App onboarding over the realm's clients (the API's and ``anbao dev seed``'s)."""
    kc = settings.keycloak
    return AppService(apps, issuer=issuer_url(kc.url, kc.realm), clock=clock)


def apps_feature(
    settings: Settings,
    apps: AppDirectory,
    orgs: OrgDirectory,
    role_audit: RoleAudit,
    clock: Callable[[], float],
) -> Feature:
    """App onboarding and app roles (``/apps``), grants recorded by ``role_audit``."""
    service = build_app_service(settings, apps, clock)
    roles = AppRoleService(apps, orgs, role_audit)
    return Feature("iam apps", routes=lambda api: add_app_routes(api, service, roles))


def orgs_feature(
    settings: Settings,
    orgs: OrgService,
    invitations: InvitationService | None,
    recorder: Recorder | None,
) -> Feature:
    """The org tree, invitations and activation, and (where a recorder audits every attempt)
    the analysts' scope grants."""

    def routes(api: Api) -> None:
        people.add_routes(api, settings, invitations)
        orgs_resources.add_routes(api, orgs, invitations)
        if recorder is not None:  # a grant of introspection nobody records is not offered
            analyst_scope.add_routes(api, orgs, recorder)

    return Feature("iam orgs", routes=routes)
