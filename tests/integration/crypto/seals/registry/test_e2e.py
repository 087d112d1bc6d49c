"""Issue 6 "done when", end to end against the real stack: Keycloak, PostgreSQL, the HTTP API.

A throwaway realm converged from ``deploy/keycloak/anbao-realm.yaml`` (the production realm
file, so the step-up is the real one: acr "2" = password + OTP through the "anbao browser"
flow, administrators always with OTP), real users logging in through Keycloak's
authorization-code flow (``BrowserlessLogin``), a unique PostgreSQL database migrated by the
app at start-up. An org admin applies, a seal admin approves and makes, the org admin
activates, the holder signs an OFD document after step-up, a verifier gets "valid"; after
revocation a new signature is refused, the CRL lists the certificate, and the old document
still verifies as valid at its (time-stamped) signing time. Every step is in the audit spool.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from click.testing import CliRunner, Result

from anbao.app import Parts, create_app
from anbao.cli import main
from anbao.settings import Settings
from audit.recording.recorder import Recorder
from audit.recording.spool import Spool, SpoolConfig
from crypto import sm3
from crypto.keystore import KekRing
from crypto.pki import CertificateList
from crypto.pki.testing import TEST_USCC
from crypto.seals.format.testing import minimal_ofd, tiny_png
from crypto.seals.tsa.authority import CONTENT_TYPE_TIMESTAMP, build_request, parse_response
from iam.admin import AdminCredentials, KeycloakAdmins
from iam.orgs.codes import uscc_check_char
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import NodeKind, OrgNode
from tests.integration.conftest import Server
from tests.integration.iam.realm_support import (
    CONSOLE,
    PASSWORD,
    REALM_DIR,
    BrowserlessLogin,
    add_public_client,
    add_user,
    admin_for,
    apply_file,
    totp,
    unique,
)

ORG_NAME = "昆明市五华区财政局"


@dataclasses.dataclass
class World:
    client: falcon.testing.TestClient
    spool: Spool
    keycloak: Server
    realm: str
    users: dict[str, str]
    nodes: dict[str, OrgNode]

    def login(self, who: str, **params: str) -> str:
        """A real login through the realm's browser flow (enrolling OTP when asked)."""
        login = BrowserlessLogin(self.keycloak.url, self.realm, CONSOLE)
        try:
            page = login.submit(
                login.start(**params), "kc-form-login", username=self.users[who], password=PASSWORD
            )
            if login.code is None and "totpSecret" in page.text:
                _, fields = page.form()
                page = login.submit(page, None, totp=totp(fields["totpSecret"]), userLabel="e2e")
            assert login.code, f"{who} did not finish the login: {page.title()}"
            return str(login.tokens()["access_token"])
        finally:
            login.close()

    def call(self, token: str, method: str, path: str, **kwargs: Any) -> falcon.testing.Result:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self.client.simulate_request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def world(
    keycloak: Server, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    realm = unique("seals")
    assert apply_file(keycloak, REALM_DIR / "anbao-realm.yaml", realm).applied
    admin = admin_for(keycloak)
    add_public_client(admin, realm, "portal")
    users = {
        "org_admin": unique("orgadmin"),
        "seal_admin": unique("sealadmin"),
        "holder": unique("holder"),
    }
    env = keycloak.env
    kc_admin = KeycloakAdmins(
        AdminCredentials.bootstrap(
            keycloak.url, env["KEYCLOAK_ADMIN_USERNAME"], env["KEYCLOAK_ADMIN_PASSWORD"]
        ),
        realm,
    ).rest()
    nodes = org_tree(KeycloakOrgDirectory(kc_admin))
    # Fresh users per test: a second login would need an OTP code, not an enrolment.
    users |= {k: unique(k.replace("_", "")) for k in ("a_admin", "a_admin2", "b_admin")}
    # The attack: bound to county A, primary membership (the org_path claim) the
    # prefecture; b_admin is bound to sibling county B.
    prefecture = nodes["prefecture"].path
    bindings = {"org_admin": "county_a", "a_admin": "county_a", "a_admin2": "county_a"}
    bindings["b_admin"] = "county_b"
    for who in bindings:
        claim = {"org_path": prefecture}
        add_user(admin, realm, users[who], roles=("org-admin",), attributes=claim)
    add_user(admin, realm, users["seal_admin"], roles=("seal-admin",))
    dept = nodes["dept_a"].path
    add_user(admin, realm, users["holder"], roles=("seal-user",), attributes={"org_path": dept})
    directory = KeycloakOrgDirectory(kc_admin)
    for who, node in bindings.items():
        person = directory.find_person(users[who])
        assert person is not None
        directory.set_admin_node(person, nodes[node])
    tmp = tmp_path_factory.mktemp("seals")
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_URL": keycloak.url,
            "ANBAO_KEYCLOAK_REALM": realm,
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_KEYCLOAK_ADMIN_USERNAME": env["KEYCLOAK_ADMIN_USERNAME"],
            "ANBAO_KEYCLOAK_ADMIN_PASSWORD": env["KEYCLOAK_ADMIN_PASSWORD"],
            # The realm file's anbao-api client: sealing and the lifecycle introspect (RFC 7662).
            "ANBAO_KEYCLOAK_CLIENT_ID": "anbao-api",
            "ANBAO_KEYCLOAK_CLIENT_SECRET": env["ANBAO_KEYCLOAK_CLIENT_SECRET"],
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "keys.json"),
            "ANBAO_SEALS_ENABLED": "true",
            "ANBAO_SEALS_DATABASE_URL": database,
            "ANBAO_SEALS_KEK": KekRing.generate_entry("e2e"),
            "ANBAO_SEALS_CRL_URL": "http://127.0.0.1:8000/seals/ca/crl",
        }
    )
    spool = Spool(SpoolConfig(path=tmp / "seal-events.sqlite3"))
    recorder = Recorder(spool)
    client = falcon.testing.TestClient(create_app(settings, Parts(audit_recorder=recorder)))
    try:
        yield World(client, spool, keycloak, realm, users, nodes)
    finally:
        recorder.close()
        spool.close()
        kc_admin.close()
        admin.delete_realm(realm)


def org_tree(directory: KeycloakOrgDirectory) -> dict[str, OrgNode]:
    """Province, prefecture, counties A and B, a department in each (real Keycloak groups)."""
    province = directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    prefecture = directory.create_node(province, NodeKind.PREFECTURE, "530100", "昆明市")
    county_a = directory.create_node(prefecture, NodeKind.COUNTY, "530102", "五华区")
    county_b = directory.create_node(prefecture, NodeKind.COUNTY, "530103", "盘龙区")
    body_b = "11530103MB0000001"
    return {
        "prefecture": prefecture,
        "county_a": county_a,
        "county_b": county_b,
        "dept_a": directory.create_node(county_a, NodeKind.DEPARTMENT, TEST_USCC, ORG_NAME),
        "dept_b": directory.create_node(
            county_b, NodeKind.DEPARTMENT, body_b + uscc_check_char(body_b), "昆明市盘龙区财政局"
        ),
    }


def application() -> dict[str, Any]:
    return {
        "org_node": TEST_USCC,
        "org_name": ORG_NAME,
        "uscc": TEST_USCC,
        "name": "昆明市五华区财政局公章",
        "holders": [],
        "picture": base64.b64encode(tiny_png()).decode(),
        "picture_type": "PNG",
        "width_mm": 40,
        "height_mm": 40,
        "valid_days": 365,
    }


def verify(w: World, document: bytes, at: str | None = None) -> dict[str, Any]:
    result = w.client.simulate_post(
        "/seals/verify",
        body=document,
        headers={"Content-Type": "application/ofd"},
        params={"at": at} if at else None,
    )
    assert result.status_code == 200, result.text
    return dict(result.json)


def events(w: World) -> list[dict[str, Any]]:
    return [json.loads(r.document) for r in w.spool.peek(10_000)]


def verify_offline(w: World, document: bytes, tmp: Path) -> Result:
    """``anbao seal verify`` with only public material: the CA bundle and CRL from the API."""
    (tmp / "signed.ofd").write_bytes(document)
    (tmp / "ca.pem").write_bytes(w.client.simulate_get("/seals/ca/certificates").content)
    (tmp / "ca.crl").write_bytes(w.client.simulate_get("/seals/ca/crl").content)
    args = ["seal", "verify", str(tmp / "signed.ofd"), "--json"]
    args += ["--trust", str(tmp / "ca.pem"), "--untrusted", str(tmp / "ca.pem")]
    args += ["--crl", str(tmp / "ca.crl")]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_apply_approve_make_sign_verify_revoke(world: World, tmp_path: Path) -> None:
    w = world
    org_admin = w.login("org_admin")
    seal_admin = w.login("seal_admin")
    body = {**application(), "holders": [w.users["holder"]]}

    created = w.call(org_admin, "POST", "/seals", json=body)
    assert created.status_code == 201, created.text
    seal_id = created.json["id"]
    assert w.call(seal_admin, "POST", "/seals", json=body).status_code == 403
    assert w.call(org_admin, "POST", f"/seals/{seal_id}/approve").status_code == 403
    for step in ("approve", "make"):
        result = w.call(seal_admin, "POST", f"/seals/{seal_id}/{step}")
        assert result.status_code == 200, result.text
    assert w.call(org_admin, "POST", f"/seals/{seal_id}/activate").json["state"] == "active"

    document = minimal_ofd("五华区财政局 通知")
    weak = w.login("holder")  # password only: acr "1"
    refused = w.call(
        weak, "POST", f"/seals/{seal_id}/sign", body=document,
        headers={"Content-Type": "application/ofd"},
    )  # fmt: skip
    assert refused.status_code == 401
    assert 'acr_values="2"' in refused.headers["www-authenticate"]

    strong = w.login("holder", acr_values="2")  # step-up: password + OTP
    signed = w.call(
        strong, "POST", f"/seals/{seal_id}/sign", body=document,
        params={"page": "1", "x": "100", "y": "150"}, headers={"Content-Type": "application/ofd"},
    )  # fmt: skip
    assert signed.status_code == 200, signed.text
    signed_at = time.time()
    report = verify(w, signed.content)
    assert report["status"] == "valid", json.dumps(report, ensure_ascii=False, indent=1)

    time.sleep(1.1)  # the revocation time must follow the signing time (second resolution)
    revoked = w.call(seal_admin, "POST", f"/seals/{seal_id}/revoke", json={"reason": "superseded"})
    assert revoked.json["state"] == "revoked"
    crl = CertificateList.load(w.client.simulate_get("/seals/ca/crl").content)
    assert int(revoked.json["cert_serial"], 16) in {r.serial_number for r in crl.revoked}

    again = w.call(
        strong, "POST", f"/seals/{seal_id}/sign", body=minimal_ofd("after"),
        headers={"Content-Type": "application/ofd"},
    )  # fmt: skip
    assert again.status_code == 409
    assert again.json["type"].endswith("seal_use_refused")
    later = verify(w, signed.content)
    assert later["status"] == "valid", "the old signature is judged at its signing time"
    offline = verify_offline(w, signed.content, tmp_path)
    assert offline.exit_code == 0, offline.stdout
    assert json.loads(offline.stdout)["status"] == "valid"
    assert signed_at < time.time()

    trail = [(e["event"]["action"], e["event"]["outcome"]) for e in events(w)]
    for action in ("seal.apply", "seal.approve", "seal.make", "seal.activate", "seal.revoke"):
        assert (action, "success") in trail
    assert ("seal.sign", "success") in trail
    assert trail.count(("seal.sign", "failure")) == 2  # acr 1, then revoked
    use = next(
        e
        for e in events(w)
        if e["event"]["action"] == "seal.sign" and e["event"]["outcome"] == "success"
    )
    assert use["labels"]["document_sm3"] == sm3.digest(document).hex()
    assert use["user"]["name"] == w.users["holder"]


def test_public_tsa_and_ca(world: World) -> None:
    w = world
    response = w.client.simulate_post(
        "/tsa",
        body=build_request(sm3.digest(b"x"), nonce=1),
        headers={"Content-Type": CONTENT_TYPE_TIMESTAMP},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/timestamp-reply"
    assert parse_response(response.content)
    pem = w.client.simulate_get("/seals/ca/certificates").content
    assert pem.count(b"BEGIN CERTIFICATE") == 2
    assert w.client.simulate_get("/seals").status_code == 401
    assert w.client.simulate_get("/readyz").json["checks"]["seal_registry"]["status"] == "up"


def b_application(w: World) -> dict[str, Any]:
    dept = w.nodes["dept_b"]
    return {**application(), "org_node": dept.id, "org_name": dept.name, "uscc": dept.code}


def test_org_admin_is_scoped_by_binding_not_primary_membership(world: World) -> None:
    """Issue 16 §2.1 on real Keycloak: bound to county A, member of the prefecture."""
    w = world
    a_admin, b_admin = w.login("a_admin"), w.login("b_admin")
    body = {**b_application(w), "holders": [w.users["holder"]]}
    theirs = w.call(b_admin, "POST", "/seals", json=body)
    assert theirs.status_code == 201, theirs.text
    seal_id = theirs.json["id"]
    dept_b = w.nodes["dept_b"]
    for ref in (dept_b.id, dept_b.code):
        assert w.call(a_admin, "POST", "/seals", json={**body, "org_node": ref}).status_code == 403
    by_path = {**body, "org_node": "", "org_path": dept_b.path}
    assert w.call(a_admin, "POST", "/seals", json=by_path).status_code == 403
    dotted = f"{w.nodes['county_a'].path}/../530103/{dept_b.code}"
    refused = w.call(a_admin, "POST", "/seals", json={**by_path, "org_path": dotted})
    assert refused.status_code in {400, 403}, refused.text
    listed = w.call(a_admin, "GET", "/seals").json["seals"]
    assert seal_id not in {s["id"] for s in listed}
    for action in ("revoke", "suspend", "activate"):
        answer = w.call(a_admin, "POST", f"/seals/{seal_id}/{action}", json={})
        assert answer.status_code == 404, (action, answer.text)
    assert w.call(a_admin, "GET", f"/seals/{seal_id}").status_code == 404
    assert w.call(b_admin, "GET", f"/seals/{seal_id}").json["state"] == "applied"


def test_the_body_must_name_a_real_node_and_its_identity(world: World) -> None:
    w = world
    a_admin = w.login("a_admin2")
    base = {**application(), "holders": [w.users["holder"]]}
    for ghost in ("530199", "00000000-0000-0000-0000-000000000000", "../../x"):
        answer = w.call(a_admin, "POST", "/seals", json={**base, "org_node": ghost})
        assert answer.status_code == 403, (ghost, answer.text)
    wrong_name = w.call(a_admin, "POST", "/seals", json={**base, "org_name": "某某局"})
    assert wrong_name.status_code == 400
    assert "org_name" in wrong_name.json["detail"]
    other = b_application(w)["uscc"]
    wrong_uscc = w.call(a_admin, "POST", "/seals", json={**base, "uscc": other})
    assert wrong_uscc.status_code == 400
    assert "uscc" in wrong_uscc.json["detail"]
    stored = w.call(a_admin, "POST", "/seals", json=base)
    assert stored.status_code == 201, stored.text
    assert stored.json["org_path"] == w.nodes["dept_a"].path
