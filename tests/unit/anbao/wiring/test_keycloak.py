"""Which Keycloak admin credentials Anbao uses: its service account, the master admin only for
bootstrap and in development."""

from __future__ import annotations

import dataclasses

from anbao.settings import Environment, Secret, Settings
from anbao.wiring.keycloak import admin_credentials, admins, bootstrap_admins


def _settings(environment: Environment, client_secret: str) -> Settings:
    base = Settings()
    keycloak = dataclasses.replace(
        base.keycloak,
        admin_password=Secret("master-pa55"),
        admin_client_secret=Secret(client_secret),
    )
    return dataclasses.replace(base, environment=environment, keycloak=keycloak)


def test_the_service_account_when_its_secret_is_set() -> None:
    creds = admin_credentials(_settings(Environment.DEVELOPMENT, "svc"))
    assert (creds.client_id, creds.client_secret, creds.password) == ("anbao-admin", "svc", "")


def test_production_never_falls_back_to_the_master_admin() -> None:
    creds = admin_credentials(_settings(Environment.PRODUCTION, ""))
    assert not creds.configured
    assert creds.password == ""


def test_development_without_a_client_uses_the_bootstrap_admin() -> None:
    assert admin_credentials(_settings(Environment.DEVELOPMENT, "")).password == "master-pa55"


def test_realm_as_code_signs_in_to_master_as_the_bootstrap_admin() -> None:
    settings = _settings(Environment.PRODUCTION, "svc")
    assert bootstrap_admins(settings).credentials.password == "master-pa55"
    assert admins(settings).realm == settings.keycloak.realm
