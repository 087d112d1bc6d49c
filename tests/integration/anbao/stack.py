"""The settings of an app on the real Keycloak realm ``realm``, its state files under ``tmp``."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import Server
from tests.integration.iam.orgs_realm import Realm


def stack_env(keycloak: Server, realm: Realm, tmp: Path) -> dict[str, str]:
    """``ANBAO_*`` variables: the realm with admin credentials and introspection (high-risk
    routes ask it), every store in ``tmp``."""
    env = keycloak.env
    return realm.settings_env(env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]) | {
        "ANBAO_ENVIRONMENT": "development",
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
