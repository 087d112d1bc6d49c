"""``anbao iam apply`` hands the realm file the secrets of Anbao's own clients from the settings."""

from __future__ import annotations

from anbao.cli.iam import _overrides
from anbao.settings import Settings


def test_the_admin_and_introspection_clients_get_the_configured_secrets() -> None:
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_CLIENT_SECRET": "introspection",
            "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET": "admin-client",
        }
    )
    out = _overrides(("court_realm=x",), settings)
    assert out["anbao_api_client_secret"] == "introspection"
    assert out["anbao_admin_client_secret"] == "admin-client"
    assert out["court_realm"] == "x"


def test_without_an_admin_client_secret_the_file_default_stands() -> None:
    assert "anbao_admin_client_secret" not in _overrides((), Settings.load({}))
