"""Issue 16 §2.3: every high-risk route asks the issuer whether the session is still alive.

Role grants and revocations, app secret rotation, the seal lifecycle and sealing, response-
action decisions, waiver requests, decisions and withdrawals, and report sign-off. A token the
issuer no longer reports active is refused (401) before anything else happens; with no
introspection configured the routes are refused (503), never run on a token that may have been
revoked. Sensitive-field reveal is covered in tests/unit/audit/integrity/test_resources.py (it
needs the audit recorder).
"""

from __future__ import annotations

import time
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from crypto.keystore import KekRing
from iam.apps.testing import MemoryAppDirectory
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.introspection import IntrospectionCache
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from policies.testing import Static, good_realm

HIGH_RISK = (
    ("PUT", "/iam/people/p1/roles/auditor"),
    ("DELETE", "/iam/people/p1/roles/auditor"),
    ("PUT", "/siem/analysts/p1"),  # issue 17 §6: granting an analyst's scope is introspection
    ("DELETE", "/siem/analysts/p1"),
    ("POST", "/iam/apps/tax-app/secret"),
    *(("POST", f"/seals/s1/{a}") for a in ("approve", "make", "activate", "suspend", "resume")),
    ("POST", "/seals/s1/revoke"),
    ("POST", "/seals/s1/sign"),
    ("POST", "/siem/actions/a1/approve"),
    ("POST", "/siem/actions/a1/reject"),
    ("POST", "/compliance/waivers"),
    ("POST", "/compliance/waivers/w1/approve"),
    ("POST", "/compliance/waivers/w1/reject"),
    ("DELETE", "/compliance/waivers/w1"),
    ("POST", "/compliance/runs/r1/signoff"),
)
#: The caller, bound to the whole tree (compliance routes need that binding, issue 16 §2.1).
SUBJECT = "officer-1"
ALL_ROLES = [
    "platform-admin", "org-admin", "seal-admin", "seal-user", "security-analyst", "auditor",
    "compliance-officer", "app-developer",
]  # fmt: skip


def bound_directory() -> InMemoryOrgDirectory:
    directory = InMemoryOrgDirectory()
    directory.bind(SUBJECT, "/", *ALL_ROLES)
    return directory


def build(
    tmp: Path, issuer: LocalIssuer, introspection: IntrospectionCache | None
) -> falcon.testing.TestClient:
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "fields.json"),
            "ANBAO_SEALS_ENABLED": "true",
            "ANBAO_SEALS_KEK": KekRing.generate_entry("unit"),
            "ANBAO_SEALS_DATABASE_URL": f"sqlite:///{tmp / 'seals.sqlite3'}",
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "alerts.sqlite3"),
            "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp / 'compliance.sqlite3'}",
        }
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    parts = Parts(
        verifier=verifier,
        introspection=introspection,
        app_directory=MemoryAppDirectory(),
        org_directory=bound_directory(),
        compliance_realm=Static(good_realm()),
    )
    return falcon.testing.TestClient(create_app(settings, parts))


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


def test_the_list_is_what_the_app_serves(tmp_path: Path, issuer: LocalIssuer) -> None:
    client = build(tmp_path, issuer, issuer.introspection())
    paths = client.simulate_get("/openapi.json").json["paths"]
    served = {(m.upper(), p) for p, item in paths.items() for m in item}
    named = {
        (m, p.replace("p1", "{person_id}").replace("auditor", "{role}")
            .replace("tax-app", "{client_id}").replace("s1", "{seal_id}")
            .replace("a1", "{action_id}").replace("w1", "{waiver_id}").replace("r1", "{run_id}"))
        for m, p in HIGH_RISK
    }  # fmt: skip
    assert named <= served


def test_an_ended_session_is_refused_on_every_high_risk_route(
    tmp_path: Path, issuer: LocalIssuer
) -> None:
    client = build(tmp_path, issuer, issuer.introspection())
    token = issuer.token(time.time(), sub=SUBJECT, realm_access={"roles": ALL_ROLES}, acr="2")
    headers = {"Authorization": f"Bearer {token}"}
    alive = {
        op: client.simulate_request(*op, headers=headers, json={}).status_code for op in HIGH_RISK
    }
    assert 401 not in alive.values(), alive  # a live session gets past authentication
    issuer.revoked.add(token)  # the user logged out, or was disabled
    ended = {
        op: client.simulate_request(*op, headers=headers, json={}).status_code for op in HIGH_RISK
    }
    assert set(ended.values()) == {401}, ended
    # The same token still reads (local JWT verification): only high-risk routes introspect.
    assert client.simulate_get("/whoami", headers=headers).status_code == 200


def test_without_introspection_high_risk_routes_are_refused(
    tmp_path: Path, issuer: LocalIssuer
) -> None:
    client = build(tmp_path, issuer, None)
    token = issuer.token(time.time(), sub=SUBJECT, realm_access={"roles": ALL_ROLES}, acr="2")
    headers = {"Authorization": f"Bearer {token}"}
    refused = {
        op: client.simulate_request(*op, headers=headers, json={}).status_code for op in HIGH_RISK
    }
    assert set(refused.values()) == {503}, refused
    assert client.simulate_get("/whoami", headers=headers).status_code == 200
