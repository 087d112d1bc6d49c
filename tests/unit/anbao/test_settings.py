from __future__ import annotations

from pathlib import Path

import pytest

from anbao.settings import AuditStoreKind, Environment, Secret, Settings, SettingsError


def test_defaults_are_loopback_development_with_embedded_audit() -> None:
    settings = Settings.load({})
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.server.host == "127.0.0.1"
    assert settings.audit.store is AuditStoreKind.SQLITE


def test_environment_overrides_toml_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "anbao.toml"
    config.write_text('[server]\nport = 9001\nworkers = 3\n[keycloak]\nrealm = "gov"\n')
    settings = Settings.load({"ANBAO_CONFIG": str(config), "ANBAO_SERVER_PORT": "9002"})
    assert settings.server.port == 9002  # env wins
    assert settings.server.workers == 3  # from TOML
    assert settings.keycloak.realm == "gov"
    assert settings.server.max_body_bytes == 1_048_576  # default


def test_secrets_never_print() -> None:
    settings = Settings.load(
        {"ANBAO_ELASTICSEARCH_PASSWORD": "hunter2-Secret", "ANBAO_AUDIT_STORE": "elasticsearch"}
    )
    assert settings.elasticsearch.password.reveal() == "hunter2-Secret"
    for text in (repr(settings), str(settings), str(settings.redacted())):
        assert "hunter2" not in text
    assert settings.redacted()["elasticsearch"]["password"] == "********"
    assert Secret("x") == Secret("x")


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"ANBAO_SERVER_PORT": "eighty"}, "server.port"),
        ({"ANBAO_SERVER_PORT": "70000"}, "server.port"),
        ({"ANBAO_KEYCLOAK_URL": "ftp://idp"}, "keycloak.url"),
        ({"ANBAO_AUDIT_STORE": "mongodb"}, "audit.store"),
        ({"ANBAO_SERVER_ACCESS_LOG": "maybe"}, "server.access_log"),
        ({"ANBAO_AUDIT_STORE": "elasticsearch"}, "elasticsearch.password"),
        ({"ANBAO_SERVER_TLS_CERT_FILE": "/nonexistent.pem"}, "server.tls_key_file"),
        ({"ANBAO_ENVIRONMENT": "production"}, "server.tls_cert_file"),
        (
            {"ANBAO_ENVIRONMENT": "production", "ANBAO_SERVER_BEHIND_TLS_PROXY": "true"},
            "keycloak.url",
        ),
    ],
)
def test_invalid_settings_name_the_setting(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(env)
    assert info.value.name == name
    assert name in str(info.value)


def test_malformed_toml_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server\nport = ")
    with pytest.raises(SettingsError, match="malformed TOML"):
        Settings.load({"ANBAO_CONFIG": str(config)})


def test_unknown_keys_are_refused_not_ignored(tmp_path: Path) -> None:
    config = tmp_path / "typo.toml"
    config.write_text("[server]\nprot = 1\n")
    with pytest.raises(SettingsError) as info:
        Settings.load({"ANBAO_CONFIG": str(config)})
    assert info.value.name == "server.prot"


def test_missing_config_file() -> None:
    with pytest.raises(SettingsError, match="not found"):
        Settings.load({"ANBAO_CONFIG": "/nonexistent/anbao.toml"})


def test_production_with_tls_proxy_and_https_keycloak_is_accepted() -> None:
    settings = Settings.load(
        {
            "ANBAO_ENVIRONMENT": "production",
            "ANBAO_SERVER_BEHIND_TLS_PROXY": "yes",
            "ANBAO_KEYCLOAK_URL": "https://idp.gov.example",
            "ANBAO_KEYCLOAK_CLIENT_SECRET": "from-the-secret-store",
            "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET": "from-the-secret-store",
            "ANBAO_CONSOLE_CLIENT_SECRET": "from-the-secret-store",
            "ANBAO_CONSOLE_PUBLIC_URL": "https://anbao.gov.example",
        }
    )
    assert settings.environment is Environment.PRODUCTION
    assert settings.console_url() == "https://anbao.gov.example"


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, "console.client_secret"),
        ({"ANBAO_CONSOLE_CLIENT_SECRET": "s"}, "console.public_url"),
        (
            {
                "ANBAO_CONSOLE_CLIENT_SECRET": "s",
                "ANBAO_CONSOLE_PUBLIC_URL": "http://anbao.example",
            },
            "console.public_url",
        ),
    ],
)
def test_production_refuses_a_console_without_its_client_or_https(
    given: dict[str, str], missing: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(
            {
                "ANBAO_ENVIRONMENT": "production",
                "ANBAO_SERVER_BEHIND_TLS_PROXY": "yes",
                "ANBAO_KEYCLOAK_URL": "https://idp.gov.example",
                "ANBAO_KEYCLOAK_CLIENT_SECRET": "from-the-secret-store",
                "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET": "from-the-secret-store",
                **given,
            }
        )
    assert info.value.name == missing


def test_production_refuses_to_start_without_its_admin_client() -> None:
    """Issue 18 §4: in production every admin call is the service account's, never master's."""
    with pytest.raises(SettingsError) as info:
        Settings.load(
            {
                "ANBAO_ENVIRONMENT": "production",
                "ANBAO_SERVER_BEHIND_TLS_PROXY": "yes",
                "ANBAO_KEYCLOAK_URL": "https://idp.gov.example",
                "ANBAO_KEYCLOAK_CLIENT_SECRET": "from-the-secret-store",
                "ANBAO_KEYCLOAK_ADMIN_PASSWORD": "master-admin",
            }
        )
    assert info.value.name == "keycloak.admin_client_secret"


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        # Issue 16 §2.3: high-risk routes must never run without asking Keycloak (RFC 7662).
        ({}, "keycloak.client_secret"),
        # Issue 18 §4: every admin call is the service account's, never the master admin's.
        (
            {"ANBAO_KEYCLOAK_CLIENT_SECRET": "s", "ANBAO_KEYCLOAK_ADMIN_PASSWORD": "master"},
            "keycloak.admin_client_secret",
        ),
    ],
)
def test_production_refuses_to_start_without_anbaos_own_clients(
    given: dict[str, str], missing: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(
            {
                "ANBAO_ENVIRONMENT": "production",
                "ANBAO_SERVER_BEHIND_TLS_PROXY": "yes",
                "ANBAO_KEYCLOAK_URL": "https://idp.gov.example",
                **given,
            }
        )
    assert info.value.name == missing


@pytest.mark.parametrize("ttl", ["-1", "31", "3600"])
def test_introspection_answers_are_reused_for_seconds_only(ttl: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load({"ANBAO_KEYCLOAK_INTROSPECTION_TTL_SECONDS": ttl})
    assert info.value.name == "keycloak.introspection_ttl_seconds"


@pytest.mark.parametrize("interval", ["0", "-1", "3601"])
def test_the_keycloak_event_pull_interval_is_bounded(interval: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load({"ANBAO_KEYCLOAK_EVENTS_INTERVAL_SECONDS": interval})
    assert info.value.name == "keycloak.events_interval_seconds"


def test_elasticsearch_url_may_name_several_nodes_of_one_cluster() -> None:
    urls = "https://10.0.0.1:9200, https://10.0.0.2:9200,https://es3.example:9200/"
    settings = Settings.load({"ANBAO_ELASTICSEARCH_URL": urls})
    assert settings.elasticsearch.url == urls


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://a:9200,", "node URL 2 is empty"),
        ("https://a:9200,ftp://b:9200", "expected an http(s) URL"),
        ("https://a:9200,https://a:9200/", "named twice"),
        ("https://a:9200,http://b:9200", "same scheme"),
        ("https://a:9200,https://anbao:hunter2@b:9200", "node URL 2 carries credentials"),
        ("https://a:9200/?x=1", "query or fragment"),
    ],
)
def test_each_elasticsearch_node_url_is_checked(url: str, why: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load({"ANBAO_ELASTICSEARCH_URL": url})
    assert info.value.name == "elasticsearch.url"
    assert why in str(info.value)
    assert "hunter2" not in str(info.value)
