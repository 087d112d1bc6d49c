"""The seal registry over HTTP (SQLite, local token issuer): roles, step-up, problems, TSA."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings, SettingsError
from crypto.keystore import KekRing
from crypto.pki.testing import TEST_USCC
from crypto.seals.format.testing import tiny_png
from crypto.seals.registry.testing import RecordingAuditTrail
from crypto.seals.tsa.authority import CONTENT_TYPE_TIMESTAMP, build_request, parse_response
from iam.orgs.model import NodeKind, PersonDraft
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from tests.unit.anbao.conftest import FakeAuditStore


class Api:
    def __init__(self, client: falcon.testing.TestClient, issuer: LocalIssuer) -> None:
        self.client = client
        self.issuer = issuer
        self.audit = RecordingAuditTrail()

    def token(self, user: str, *roles: str, org_path: str = "", acr: str = "1") -> str:
        return self.issuer.token(
            time.time(),
            sub=f"sub-{user}",
            preferred_username=user,
            realm_access={"roles": list(roles)},
            org_path=org_path,
            acr=acr,
        )

    def call(self, token: str, method: str, path: str, **kw: object) -> falcon.testing.Result:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.simulate_request(method, path, headers=headers, **kw)  # type: ignore[arg-type]


def org_tree() -> InMemoryOrgDirectory:
    """The live directory: olga is bound to the prefecture, whose finance bureau applies."""
    d = InMemoryOrgDirectory()
    province = d.create_node(None, NodeKind.PROVINCE, "350000", "福建省")
    prefecture = d.create_node(province, NodeKind.PREFECTURE, "350100", "福州市")
    d.create_node(prefecture, NodeKind.DEPARTMENT, TEST_USCC, "福州市财政局")
    for user, bound in (("olga", prefecture), ("otto", None)):
        person = d.create_person(PersonDraft(user, "测", "试"), [prefecture])
        d.people[f"sub-{user}"] = dataclasses.replace(
            d.people.pop(person.id),
            id=f"sub-{user}",
            roles=frozenset({"org-admin"}),
            admin_node=bound.id if bound else None,
        )
    return d


@pytest.fixture
def api(tmp_path: Path, issuer: LocalIssuer, audit_store: FakeAuditStore) -> Iterator[Api]:
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_SEALS_ENABLED": "true",
            "ANBAO_SEALS_DATABASE_URL": f"sqlite:///{tmp_path / 'seals.sqlite3'}",
            "ANBAO_SEALS_KEK": KekRing.generate_entry("k1"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp_path / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp_path / "sth.pem"),
        }
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    trail = RecordingAuditTrail()
    parts = Parts(
        verifier=verifier,
        audit_store=audit_store,
        seal_audit=trail,
        org_directory=org_tree(),
        introspection=issuer.introspection(),
    )
    app = create_app(settings, parts)
    result = Api(falcon.testing.TestClient(app), issuer)
    result.audit = trail
    return result


def body() -> dict[str, object]:
    return {
        "org_node": TEST_USCC,
        "org_name": "福州市财政局",
        "uscc": TEST_USCC,
        "name": "福州市财政局公章",
        "holders": ["alice"],
        "picture": base64.b64encode(tiny_png()).decode(),
        "width_mm": 40,
        "height_mm": 40,
    }


def test_lifecycle_over_http(api: Api) -> None:
    org_admin = api.token("olga", "org-admin", org_path="/35/3501")
    seal_admin = api.token("sam", "seal-admin")
    created = api.call(org_admin, "POST", "/seals", json=body())
    assert created.status_code == 201, created.text
    seal_id = created.json["id"]
    assert created.headers["location"] == f"/seals/{seal_id}"
    for step, who in (("approve", seal_admin), ("make", seal_admin), ("activate", org_admin)):
        assert api.call(who, "POST", f"/seals/{seal_id}/{step}").status_code == 200
    shown = api.call(org_admin, "GET", f"/seals/{seal_id}").json
    assert shown["state"] == "active"
    assert shown["seal"]

    path = f"/seals/{seal_id}/sign"
    octets = {"Content-Type": "application/octet-stream"}
    weak = api.token("alice", "seal-user", org_path="/35/3501/finance")
    refused = api.call(weak, "POST", path, body=b"doc", headers=octets)
    assert refused.status_code == 401
    assert 'acr_values="2"' in refused.headers["www-authenticate"]
    strong = api.token("alice", "seal-user", org_path="/35/3501/finance", acr="2")
    signed = api.call(strong, "POST", path, body=b"doc", headers=octets, params={"name": "a.txt"})
    assert signed.status_code == 200, signed.text
    report = api.client.simulate_post(
        "/seals/verify",
        json={
            "signature": base64.b64encode(signed.content).decode(),
            "document": base64.b64encode(b"doc").decode(),
        },
    ).json
    assert report["status"] == "valid", report
    stranger = api.token("bob", "seal-user", acr="2")
    assert api.call(stranger, "POST", path, body=b"doc", headers=octets).status_code == 404
    assert (
        api.call(
            strong, "POST", path, body=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )

    revoked = api.call(
        seal_admin, "POST", f"/seals/{seal_id}/revoke", json={"reason": "key_compromise"}
    )
    assert revoked.json["revocation_reason"] == "key_compromise"
    again = api.call(strong, "POST", path, body=b"doc", headers=octets)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json["type"] == "urn:anbao:problem:seal_use_refused"
    signs = [outcome for action, outcome in api.audit.actions() if action == "seal.sign"]
    assert signs == ["failure", "success", "failure", "failure"]  # weak acr, ok, stranger, revoked
    weak_event = next(e for e in api.audit.events if e.action == "seal.sign")
    assert weak_event.reason == "seal_step_up_required"


def test_problems(api: Api) -> None:
    org_admin = api.token("olga", "org-admin", org_path="/35/3501")
    cases = [
        (
            api.call(
                org_admin, "POST", "/seals", body=b"{", headers={"Content-Type": "application/json"}
            ),
            400,
        ),
        (api.call(org_admin, "POST", "/seals", json={**body(), "width_mm": "40"}), 400),
        (api.call(org_admin, "POST", "/seals", json={**body(), "picture": "***"}), 400),
        (api.call(org_admin, "GET", "/seals", params={"state": "nonsense"}), 400),
        (api.call(org_admin, "GET", "/seals/nope"), 404),
        (api.call(org_admin, "POST", "/seals/nope/approve"), 403),
        (api.call(api.token("u"), "GET", "/seals"), 403),
    ]
    for result, status in cases:
        assert result.status_code == status, result.text
        assert result.headers["content-type"] == "application/problem+json"
    listed = api.call(org_admin, "GET", "/seals").json
    assert listed == {"seals": []}


def test_public_ca_crl_and_tsa(api: Api) -> None:
    assert api.client.simulate_get("/seals/ca/certificates").text.count("BEGIN CERTIFICATE") == 2
    crl = api.client.simulate_get("/seals/ca/crl")
    assert crl.headers["content-type"] == "application/pkix-crl"
    reply = api.client.simulate_post(
        "/tsa", body=build_request(b"\x01" * 32), headers={"Content-Type": CONTENT_TYPE_TIMESTAMP}
    )
    assert parse_response(reply.content)
    assert (
        api.client.simulate_post(
            "/tsa", body=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    paths = api.client.simulate_get("/openapi.json").json["paths"]
    assert {"/seals", "/seals/{seal_id}/sign", "/tsa", "/seals/ca/crl"} <= set(paths)


def test_settings_need_a_kek() -> None:
    with pytest.raises(SettingsError, match=r"seals\.kek"):
        Settings.load({"ANBAO_SEALS_ENABLED": "true"})


def test_settings_mask_the_database_url_and_kek() -> None:
    kek = KekRing.generate_entry("k1")
    url = "postgresql://anbao:s3cret-pw@db/anbao"
    settings = Settings.load(
        {"ANBAO_SEALS_ENABLED": "true", "ANBAO_SEALS_KEK": kek, "ANBAO_SEALS_DATABASE_URL": url}
    )
    dumped = str(settings.redacted()) + repr(settings)
    assert "s3cret-pw" not in dumped
    assert kek.split(":")[1] not in dumped
    assert settings.seals.database_url.reveal() == url


def test_org_scope_comes_from_the_live_binding_not_the_token(api: Api) -> None:
    """Issue 16 §2.1 over HTTP: otto's token claims the prefecture, but he is bound nowhere."""
    otto = api.token("otto", "org-admin", org_path="/350000/350100")
    assert api.call(otto, "POST", "/seals", json=body()).status_code == 403
    olga = api.token("olga", "org-admin", org_path="/")
    created = api.call(olga, "POST", "/seals", json=body())
    assert created.status_code == 201, created.text
    assert created.json["org_path"] == f"/350000/350100/{TEST_USCC}"
    seal_id = created.json["id"]
    assert api.call(otto, "GET", "/seals").json == {"seals": []}
    assert api.call(otto, "POST", f"/seals/{seal_id}/revoke", json={}).status_code == 404
    dotted = {**body(), "org_node": "", "org_path": f"/350000/350100/../350100/{TEST_USCC}"}
    assert api.call(olga, "POST", "/seals", json=dotted).status_code == 400
    ghost = {**body(), "org_node": "350199"}
    assert api.call(olga, "POST", "/seals", json=ghost).status_code == 403
