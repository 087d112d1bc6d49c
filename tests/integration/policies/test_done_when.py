"""Issue 8's Done-when: the catalogue against the real Keycloak, through ``create_app``.

A fresh realm converged from deploy/keycloak/anbao-realm.yaml passes every automated control;
after weakening it through the admin API (password policy, brute force off, OTP taken from an
admin) exactly the matching controls fail, with findings naming the setting. The issued PDF
renders (pdftoppm), carries the Chinese titles in its text layer (pdftotext), and a changed byte
fails SM2 verification by ``anbao crypto sm2 verify``.
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from click.testing import CliRunner
from keycloak import KeycloakAdmin

from anbao.app import Parts, create_app
from anbao.cli import main
from anbao.settings import Settings
from crypto import keys
from crypto.sm2 import PrivateKey
from iam.admin import AdminCredentials, KeycloakAdmins
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import NodeKind, PersonDraft
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from policies.catalogue.load import load_catalogue
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import REALM_DIR, add_user, admin_for, apply_file, unique

ADMIN = "ops-lead"
#: The controls whose checks read the three weakened settings (and nothing else fails).
WEAKENED = {"L3-CES1-01", "L3-CES1-02", "L3-CES1-04", "GBT39786-8.4-a"}


@pytest.fixture(scope="module")
def realm(keycloak: Server) -> Iterator[str]:
    name = unique("compliance")
    apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", name)
    admin = admin_for(keycloak)
    add_user(admin, name, ADMIN, roles=("platform-admin",), requiredActions=["CONFIGURE_TOTP"])
    yield name
    admin_for(keycloak).delete_realm(name)


#: username -> Keycloak user id of the compliance staff, bound to the province (the tree's root):
#: compliance evidence is platform-wide, so the live binding must cover the whole tree.
STAFF: dict[str, str] = {}


@pytest.fixture(scope="module")
def staff(keycloak: Server, realm: str) -> dict[str, str]:
    env = keycloak.env
    admin = KeycloakAdmins(
        AdminCredentials.bootstrap(
            keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
        ),
        realm,
    ).rest()
    directory = KeycloakOrgDirectory(admin)
    province = directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    for username in ("officer", "wang.li"):
        person = directory.create_person(PersonDraft(username, "测", "试"), [province])
        directory.set_admin_node(person, province)
        STAFF[username] = person.id
    admin.close()
    return STAFF


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


class FreshApp:
    """A new ``create_app`` per request: Falcon's simulate_* runs the whole ASGI lifespan per
    call (shutdown closes the stores), while the files on disk carry the state across."""

    def __init__(self, env: dict[str, str], issuer: LocalIssuer) -> None:
        self.env, self.settings, self.issuer = env, Settings.load(env), issuer

    def _client(self) -> falcon.testing.TestClient:
        verifier = TokenVerifier(
            issuer=self.issuer.issuer, audience="anbao-api", jwks=self.issuer, clock=time.time
        )
        parts = Parts(verifier=verifier, introspection=self.issuer.introspection())
        return falcon.testing.TestClient(create_app(self.settings, parts))

    def simulate_get(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self._client().simulate_get(path, **kwargs)

    def simulate_post(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self._client().simulate_post(path, **kwargs)


@pytest.fixture(scope="module")
def client(
    keycloak: Server,
    realm: str,
    issuer: LocalIssuer,
    staff: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> FreshApp:
    tmp = tmp_path_factory.mktemp("compliance")
    key = tmp / "officer.pem"
    key.write_bytes(keys.dump_private_key(PrivateKey.generate()))
    env = {
        "ANBAO_KEYCLOAK_URL": keycloak.url,
        "ANBAO_KEYCLOAK_REALM": realm,
        "ANBAO_KEYCLOAK_REQUIRED": "false",
        "ANBAO_KEYCLOAK_ADMIN_USERNAME": keycloak.env["KEYCLOAK_ADMIN_USERNAME"],
        "ANBAO_KEYCLOAK_ADMIN_PASSWORD": keycloak.env["KEYCLOAK_ADMIN_PASSWORD"],
        "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "fields.json"),
        "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "alerts.sqlite3"),
        "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp / 'compliance.sqlite3'}",
        "ANBAO_COMPLIANCE_SIGNING_KEY_FILE": str(key),
        "ANBAO_SERVER_ACCESS_LOG": "false",
    }  # fmt: skip
    return FreshApp(env, issuer)


def _as(issuer: LocalIssuer, *roles: str, user: str = "officer") -> dict[str, str]:
    token = issuer.token(
        time.time(), sub=STAFF[user], preferred_username=user, realm_access={"roles": list(roles)}
    )
    return {"Authorization": f"Bearer {token}"}


def _run(client: FreshApp, issuer: LocalIssuer) -> dict[str, Any]:
    result = client.simulate_post("/compliance/runs", headers=_as(issuer, "compliance-officer"))
    assert result.status_code == 201, result.text
    body: dict[str, Any] = result.json
    return body


def _status(run: dict[str, Any]) -> dict[str, str]:
    return {r["control_id"]: r["status"] for r in run["results"]}


def _failed_settings(run: dict[str, Any]) -> set[str]:
    return {
        f["setting"]
        for r in run["results"]
        for c in r["checks"]
        for f in c["findings"]
        if not f["ok"]
    }


def _weaken(admin: KeycloakAdmin, realm: str) -> None:
    admin.change_current_realm(realm)
    admin.update_realm(realm, {"passwordPolicy": "length(4)", "bruteForceProtected": False})
    otp_role = admin.get_realm_role("otp-required")
    admin.remove_composite_realm_roles_to_role("platform-admin", [otp_role])
    user_id = admin.get_user_id(ADMIN)
    assert user_id is not None
    admin.update_user(user_id, {"requiredActions": []})


def test_default_realm_passes_and_weakened_realm_fails_exactly_the_matching_controls(
    keycloak: Server, realm: str, client: FreshApp, issuer: LocalIssuer
) -> None:
    catalogue = load_catalogue()
    first = _run(client, issuer)
    status = _status(first)
    assert set(status) == {c.id for c in catalogue.controls()}
    assert [c for c, s in status.items() if s == "fail"] == [], _failed_settings(first)
    automated = {c.id for c in catalogue.controls() if c.checks}
    realm_backed = {
        c.id for c in catalogue.controls() if any(k.startswith("realm.") for k in c.checks)
    }
    assert all(status[c] == "pass" for c in realm_backed)
    assert all(status[c] in ("pass", "not_applicable") for c in automated)
    assert status["L3-CES1-14"] == "pass"  # tamper evidence verified at run time, retention 365 d
    assert status["CSL-21-3"] == "pass"

    _weaken(admin_for(keycloak), realm)
    second = _run(client, issuer)
    failed = {c for c, s in _status(second).items() if s == "fail"}
    assert failed == WEAKENED
    settings = _failed_settings(second)
    assert {
        "passwordPolicy.length", "passwordPolicy.upperCase", "bruteForceProtected",
        "roles.platform-admin.composites", f"users.{ADMIN}.otp",
    } <= settings  # fmt: skip
    by_id = {r["control_id"]: r for r in second["results"]}
    brute = next(c for c in by_id["L3-CES1-02"]["checks"] if c["check"] == "realm.brute_force")
    assert {"setting": "bruteForceProtected", "observed": False}.items() <= next(
        f for f in brute["findings"] if f["setting"] == "bruteForceProtected"
    ).items()

    detail = client.simulate_get(f"/compliance/runs/{second['id']}", headers=_as(issuer, "auditor"))
    assert {(c["control_id"], c["before"], c["after"]) for c in detail.json["changes"]} == {
        (c, "pass", "fail") for c in WEAKENED
    }


def _pages_and_text(pdf: bytes, tmp: Path) -> tuple[list[Path], str]:
    path = tmp / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp / "page")], check=True)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout.decode("utf-8")
    return sorted(tmp.glob("page*.png")), "".join(text.split())


def test_pdf_renders_is_signed_off_and_a_changed_byte_fails_verification(
    client: FreshApp, issuer: LocalIssuer, tmp_path: Path
) -> None:
    run = _run(client, issuer)
    url = f"/compliance/runs/{run['id']}"
    assert (
        client.simulate_get(f"{url}/report.pdf", headers=_as(issuer, "seal-user")).status_code
        == 403
    )
    draft = client.simulate_get(f"{url}/report.pdf", headers=_as(issuer, "auditor"))
    assert draft.status_code == 200
    assert draft.headers["content-type"] == "application/pdf"
    pages, text = _pages_and_text(draft.content, tmp_path)
    assert pages
    assert all(p.stat().st_size > 1000 for p in pages)
    for title in ("身份鉴别", "访问控制", "安全审计", "数据完整性", "数据保密性", "应用和数据安全",
                  "网络日志留存不少于六个月", "两种以上组合鉴别且其一为密码技术"):  # fmt: skip
        assert title in text, title

    refused = client.simulate_post(f"{url}/signoff", json={"comment": "x"},
                                   headers=_as(issuer, "auditor"))  # fmt: skip
    assert refused.status_code == 403
    signed = client.simulate_post(f"{url}/signoff", json={"comment": "已复核 reviewed"},
                                  headers=_as(issuer, "compliance-officer", user="wang.li"))  # fmt: skip
    assert signed.status_code == 200, signed.text
    assert signed.json["signoff"]["officer"] == "wang.li"
    again = client.simulate_post(
        f"{url}/signoff", json={}, headers=_as(issuer, "compliance-officer")
    )
    assert again.status_code == 409

    issued = client.simulate_get(f"{url}/report.pdf", headers=_as(issuer, "auditor")).content
    sig = client.simulate_get(f"{url}/signature", headers=_as(issuer, "auditor")).json
    _, issued_text = _pages_and_text(issued, tmp_path)
    assert "已复核reviewed" in issued_text
    files = {"report.pdf": issued, "report.sig": base64.b64decode(sig["signature"]),
             "officer.pub": sig["public_key_pem"].encode()}  # fmt: skip
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    verify = ["crypto", "sm2", "verify", "-p", str(tmp_path / "officer.pub"),
              "-s", str(tmp_path / "report.sig"), str(tmp_path / "report.pdf")]  # fmt: skip
    assert CliRunner().invoke(main, verify).exit_code == 0
    check = ["compliance", "verify-report", str(tmp_path / "report.pdf"),
             "--sig", str(tmp_path / "report.sig"), "--pub", str(tmp_path / "officer.pub")]  # fmt: skip
    assert CliRunner().invoke(main, check).exit_code == 0

    changed = bytearray(issued)
    changed[len(changed) // 2] ^= 0x01
    (tmp_path / "report.pdf").write_bytes(bytes(changed))
    assert CliRunner().invoke(main, verify).exit_code == 1
    assert CliRunner().invoke(main, check).exit_code == 1
