"""The settings of an app on the real Keycloak realm ``realm``, its state files under ``tmp``."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import Server


def stack_env(keycloak: Server, realm: str, tmp: Path) -> dict[str, str]:
    """``ANBAO_*`` variables: Keycloak with admin credentials, every store in ``tmp``."""
    env = keycloak.env
    return {
        "ANBAO_ENVIRONMENT": "development",
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_REQUIRED": "false",
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": env["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": env["KEYCLOAK_ADMIN_PASSWORD"],
        "ANBAO_SERVER_ACCESS_LOG": "false",
        "ANBAO_AUDIT_RECORD_REQUESTS": "false",
        "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "keyring.json"),
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "alerts.sqlite3"),
        "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp / 'compliance.sqlite3'}",
    }
