"""The settings of an app on the real Keycloak realm ``realm``, its state files under ``tmp``."""

from __future__ import annotations

from pathlib import Path

from crypto.keystore import KekRing
from tests.integration.anbao.serving import state_env
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


def served_realm_env(
    keycloak: Server, realm: str, state: Path, database: str = ""
) -> dict[str, str]:
    """``ANBAO_*`` of an ``anbao serve`` process on a realm converged from the realm file:
    its confidential client (high-risk routes introspect, uncached), every store in ``state``,
    and the seal registry on ``database`` when one is given."""
    kc = keycloak.env
    seals = {
        "ANBAO_SEALS_ENABLED": "true",
        "ANBAO_SEALS_DATABASE_URL": database,
        "ANBAO_SEALS_KEK": KekRing.generate_entry("served-realm"),
    }
    return (
        state_env(state)
        | (seals if database else {})
        | {
            "ANBAO_DATA_DIR": str(state),
            "ANBAO_ENVIRONMENT": "development",
            "ANBAO_KEYCLOAK_URL": keycloak.url,
            "ANBAO_KEYCLOAK_REALM": realm,
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_KEYCLOAK_ADMIN_USERNAME": kc["KEYCLOAK_ADMIN_USERNAME"],
            "ANBAO_KEYCLOAK_ADMIN_PASSWORD": kc["KEYCLOAK_ADMIN_PASSWORD"],
            "ANBAO_KEYCLOAK_CLIENT_ID": "anbao-api",
            "ANBAO_KEYCLOAK_CLIENT_SECRET": kc["ANBAO_KEYCLOAK_CLIENT_SECRET"],
            "ANBAO_KEYCLOAK_INTROSPECTION_TTL_SECONDS": "0",
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(state / "alerts.sqlite3"),
            "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{state / 'compliance.sqlite3'}",
        }
    )
