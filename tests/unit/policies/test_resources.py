"""``/compliance`` through ``create_app``: roles, formats, problems; realm facts from a fake."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from crypto import keys
from crypto.sm2 import PrivateKey
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from policies.testing import Static, good_realm
from tests.unit.anbao.conftest import FakeAuditStore

ISSUER = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


class App:
    """A fresh app per request (simulate_* runs the ASGI lifespan, which closes stores)."""

    def __init__(self, tmp: Path) -> None:
        key = tmp / "officer.pem"
        key.write_bytes(keys.dump_private_key(PrivateKey.generate()))
        self.settings = Settings.load({
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp / "fields.json"),
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp / "audit.sqlite3"),
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp / "alerts.sqlite3"),
            "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp / 'c.sqlite3'}",
            "ANBAO_COMPLIANCE_SIGNING_KEY_FILE": str(key),
        })  # fmt: skip

    def client(self) -> falcon.testing.TestClient:
        verifier = TokenVerifier(issuer=ISSUER.issuer, audience="anbao-api", jwks=ISSUER,
                                 clock=time.time)  # fmt: skip
        parts = Parts(verifier=verifier, audit_store=FakeAuditStore(),  # type: ignore[arg-type]
                      compliance_realm=Static(good_realm(brute_force_protected=False)),
                      introspection=ISSUER.introspection(),
                      org_directory=DIRECTORY)  # fmt: skip
        return falcon.testing.TestClient(create_app(self.settings, parts))


#: The live directory: compliance staff are bound at the root of the tree (the province).
DIRECTORY = InMemoryOrgDirectory()


def _as(*roles: str, bound: str = "/530000", name: str = "") -> dict[str, str]:
    sub = f"sub-{'-'.join(roles)}-{bound}-{name}"
    DIRECTORY.bind(sub, bound, *roles)
    claims = {"preferred_username": name} if name else {}
    token = ISSUER.token(time.time(), sub=sub, realm_access={"roles": list(roles)}, **claims)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(tmp_path)


def test_only_officers_run_and_only_officers_and_auditors_read(app: App) -> None:
    assert app.client().simulate_post("/compliance/runs", headers=_as("auditor")).status_code == 403
    created = app.client().simulate_post("/compliance/runs", headers=_as("compliance-officer"))
    assert created.status_code == 201, created.text
    run_id = created.json["id"]
    assert created.headers["location"] == f"/compliance/runs/{run_id}"
    for role, code in (("auditor", 200), ("compliance-officer", 200), ("platform-admin", 403)):
        got = app.client().simulate_get(f"/compliance/runs/{run_id}/report.json", headers=_as(role))
        assert got.status_code == code, role
    assert app.client().simulate_get("/compliance/runs").status_code == 401


def test_report_formats_are_laid_out_by_standard_and_clause(app: App) -> None:
    run_id = (
        app.client().simulate_post("/compliance/runs", headers=_as("compliance-officer")).json["id"]
    )
    body = app.client().simulate_get(
        f"/compliance/runs/{run_id}/report.json", headers=_as("auditor")
    )
    report = json.loads(body.content)
    assert [s["standard"] for s in report["standards"]][:2] == [
        "GB/T 22239-2019",
        "GB/T 39786-2021",
    ]
    first = report["standards"][0]["sections"][0]
    assert first["section"].startswith("8.1.4.1")
    brute = next(c for c in first["controls"] if c["id"] == "L3-CES1-02")
    assert brute["status"] == "fail"
    assert brute["status_zh"] == "不符合"
    html = app.client().simulate_get(
        f"/compliance/runs/{run_id}/report.html", headers=_as("auditor")
    )
    assert html.headers["content-type"].startswith("text/html")
    assert "登录失败处理与超时退出" in html.text
    assert "<svg" in html.text
    bad = app.client().simulate_get(
        f"/compliance/runs/{run_id}/report.xlsx", headers=_as("auditor")
    )
    assert bad.status_code == 400
    assert bad.json["type"].endswith("compliance_invalid_request")


#: A waiver request; its expiry is a year after the clock the app reads (not a fixed date).
WAIVER = {"control_id": "L3-CES1-02", "justification": "gateway lockout",
          "expires_at": (datetime.now(UTC) + timedelta(days=365)).isoformat()}  # fmt: skip


def test_unknown_run_and_bad_waiver_are_problems(app: App) -> None:
    missing = app.client().simulate_get("/compliance/runs/nope", headers=_as("auditor"))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    bad = app.client().simulate_post(
        "/compliance/waivers", headers=_as("compliance-officer"),
        json=WAIVER | {"expires_at": "tomorrow"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "expires_at" in bad.json["detail"]
    assert bad.json["field"] == "expires_at"


def test_a_typed_approver_is_refused_naming_the_field(app: App) -> None:
    """Issue 16 §2.4: who approved is never a name in the body."""
    officer = _as("compliance-officer", name="wang")
    for extra, field in (({"approver": "zhao"}, "approver"), ({"requested_by": "li"},
                                                               "requested_by")):  # fmt: skip
        refused = app.client().simulate_post(
            "/compliance/waivers", headers=officer, json=WAIVER | extra
        )
        assert refused.status_code == 400, refused.text
        assert refused.json["type"].endswith("compliance_invalid_request")
        assert refused.json["field"] == field
        assert refused.json["detail"].startswith(f"{field}: ")
    listed = app.client().simulate_get("/compliance/waivers", headers=officer).json["waivers"]
    assert listed == []  # nothing stored
    retired = app.client().simulate_post(
        "/compliance/waivers", headers=officer, json=WAIVER | {"approver": "zhao"}
    )
    assert "POST /compliance/waivers/{id}/approve" in retired.json["detail"]


def test_waivers_take_a_second_officer(app: App) -> None:
    wang = _as("compliance-officer", name="wang")
    zhao = _as("compliance-officer", name="zhao")
    made = app.client().simulate_post("/compliance/waivers", headers=wang, json=WAIVER)
    assert made.status_code == 201, made.text
    waiver = made.json
    assert (waiver["state"], waiver["requested_by"], waiver["decided_by"]) == (
        "pending",
        "wang",
        "",
    )
    assert made.headers["location"] == f"/compliance/waivers/{waiver['id']}"
    approve = f"/compliance/waivers/{waiver['id']}/approve"
    run = app.client().simulate_post("/compliance/runs", headers=wang).json
    assert run["counts"]["waived"] == 0  # pending does not count

    mine = app.client().simulate_post(approve, headers=wang)
    assert mine.status_code == 403
    assert mine.json["type"] == "urn:anbao:problem:compliance_waiver_self_approval"
    auditor = app.client().simulate_post(approve, headers=_as("auditor", name="qian"))
    assert auditor.status_code == 403
    approved = app.client().simulate_post(approve, headers=zhao)
    assert approved.status_code == 200, approved.text
    assert (approved.json["state"], approved.json["decided_by"]) == ("approved", "zhao")
    again = app.client().simulate_post(approve, headers=_as("compliance-officer", name="li"))
    assert again.status_code == 409
    assert again.json["type"].endswith("compliance_waiver_state_conflict")

    run = app.client().simulate_post("/compliance/runs", headers=wang).json
    assert run["counts"]["waived"] == 1
    html = app.client().simulate_get(f"/compliance/runs/{run['id']}/report.html", headers=wang)
    assert "requested by wang" in html.text
    assert "approved by zhao" in html.text


def test_a_rejection_needs_a_reason_and_another_officer(app: App) -> None:
    wang = _as("compliance-officer", name="wang")
    zhao = _as("compliance-officer", name="zhao")
    waiver_id = (
        app.client().simulate_post("/compliance/waivers", headers=wang, json=WAIVER).json["id"]
    )
    reject = f"/compliance/waivers/{waiver_id}/reject"
    for body in ({}, {"reason": "  "}, {"reason": "no", "approver": "zhao"}, {"reason": 7}):
        refused = app.client().simulate_post(reject, headers=zhao, json=body)
        assert refused.status_code == 400, (body, refused.text)
    assert (
        app.client().simulate_post(reject, headers=wang, json={"reason": "no"}).status_code == 403
    )
    rejected = app.client().simulate_post(reject, headers=zhao, json={"reason": "fix it"})
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json["state"], rejected.json["decided_by"], rejected.json["reason"]) == (
        "rejected",
        "zhao",
        "fix it",
    )
    missing = app.client().simulate_post("/compliance/waivers/nope/approve", headers=zhao)
    assert missing.status_code == 404


def test_waiver_crud_and_signoff(app: App) -> None:
    officer = _as("compliance-officer", name="wang")
    made = app.client().simulate_post("/compliance/waivers", headers=officer, json=WAIVER)
    assert made.status_code == 201, made.text
    waiver_id = made.json["id"]
    second = _as("compliance-officer", name="zhao")
    approved = app.client().simulate_post(
        f"/compliance/waivers/{waiver_id}/approve", headers=second
    )
    assert approved.status_code == 200, approved.text
    run = app.client().simulate_post("/compliance/runs", headers=officer).json
    assert run["counts"]["waived"] == 1
    assert app.client().simulate_get("/compliance/waivers", headers=_as("auditor")).json["waivers"]
    gone = app.client().simulate_delete(f"/compliance/waivers/{waiver_id}", headers=officer)
    assert gone.status_code == 204
    assert (
        app.client().simulate_get(f"/compliance/waivers/{waiver_id}", headers=officer).status_code
        == 404
    )
    early = app.client().simulate_get(f"/compliance/runs/{run['id']}/signature", headers=officer)
    assert (early.status_code, early.json["type"]) == (
        409,
        "urn:anbao:problem:compliance_not_signed_off",
    )
    signed = app.client().simulate_post(f"/compliance/runs/{run['id']}/signoff", json={"comment": "ok"},
                                        headers=officer)  # fmt: skip
    assert signed.status_code == 200, signed.text
    sig = app.client().simulate_get(f"/compliance/runs/{run['id']}/signature", headers=officer)
    assert sig.json["report_sha256"] == signed.json["signoff"]["report_sha256"]


def test_waiver_operations_declare_their_request_schemas(app: App) -> None:
    paths = app.client().simulate_get("/openapi.json").json["paths"]

    def schema(path: str) -> dict[str, object]:
        body = paths[path]["post"]["requestBody"]
        return body["content"]["application/json"]["schema"]  # type: ignore[no-any-return]

    request = schema("/compliance/waivers")
    assert request["required"] == ["control_id", "justification", "expires_at"]
    assert request["additionalProperties"] is False
    assert "approver" not in request["properties"]  # type: ignore[operator]
    assert schema("/compliance/waivers/{waiver_id}/reject")["required"] == ["reason"]
    assert schema("/compliance/waivers/{waiver_id}/approve")["additionalProperties"] is False


def test_platform_wide_evidence_needs_a_whole_tree_binding(app: App) -> None:
    """Issue 16 §2.1: the role alone is not enough; the live binding must cover the tree."""
    client = app.client()
    assert (
        client.simulate_post("/compliance/runs", headers=_as("compliance-officer")).status_code
        == 201
    )
    for bound in ("/530000/530100/530102", ""):
        officer = _as("compliance-officer", bound=bound)
        assert client.simulate_post("/compliance/runs", headers=officer).status_code == 403
        auditor = _as("auditor", bound=bound)
        assert client.simulate_get("/compliance/runs", headers=auditor).status_code == 403
    assert client.simulate_get("/compliance/runs", headers=_as("auditor")).status_code == 200


def test_runs_and_sign_offs_name_the_person_even_without_a_username(app: App) -> None:
    """The CLI acts through these routes now: a token without ``preferred_username`` still
    names its person (the subject), as waivers do, never an empty name."""
    subject = "sub-officer-without-username"
    DIRECTORY.bind(subject, "/530000", "compliance-officer")
    token = ISSUER.token(time.time(), sub=subject, preferred_username=None,
                         realm_access={"roles": ["compliance-officer"]})  # fmt: skip
    officer = {"Authorization": f"Bearer {token}"}
    created = app.client().simulate_post("/compliance/runs", headers=officer)
    assert created.status_code == 201, created.text
    assert created.json["requested_by"] == subject
    url = f"/compliance/runs/{created.json['id']}/signoff"
    signed = app.client().simulate_post(url, json={"comment": "ok"}, headers=officer)
    assert signed.status_code == 200, signed.text
    assert signed.json["signoff"]["officer"] == subject
