"""Issue 17 §6: an analyst's scope is granted through Anbao, with the one binding.

``PUT /siem/analysts/{id}`` grants ``security-analyst`` bound to a node (``node_id``) or to the
root of the tree (``province_wide``); the binding is ``org_admin_node``, the same the scope
authority reads; every attempt is audited; ``DELETE`` revokes it and drops the binding unless
another role of the person reads it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.wiring.audit import spool_config
from audit.recording.spool import Spool
from iam.orgs.model import NodeKind
from iam.orgs.scope import resolve_scope
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier

ADMIN = "admin-1"


@pytest.fixture
def world(tmp_path: Path) -> tuple[falcon.testing.TestClient, InMemoryOrgDirectory, LocalIssuer]:
    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    directory = InMemoryOrgDirectory()
    province = directory.create_node(None, NodeKind.PROVINCE, "530000", "云南省")
    directory.create_node(province, NodeKind.PREFECTURE, "530100", "昆明市")
    directory.bind(ADMIN, "/", "platform-admin")
    directory.bind("ana", "", "auditor")
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_SERVER_ACCESS_LOG": "false",
            "ANBAO_AUDIT_RECORD_REQUESTS": "false",
            "ANBAO_AUDIT_SQLITE_PATH": str(tmp_path / "audit.sqlite3"),
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(tmp_path / "integrity.sqlite3"),
            "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(tmp_path / "sth.pem"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp_path / "fields.json"),
            "ANBAO_SIEM_ALERT_SQLITE_PATH": str(tmp_path / "alerts.sqlite3"),
            "ANBAO_COMPLIANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'compliance.sqlite3'}",
        }
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    parts = Parts(verifier=verifier, introspection=issuer.introspection(), org_directory=directory)
    return falcon.testing.TestClient(create_app(settings, parts)), directory, issuer


def _put(
    client: falcon.testing.TestClient, issuer: LocalIssuer, who: str, body: object, roles: list[str]
) -> falcon.testing.Result:
    token = issuer.token(time.time(), sub=who, realm_access={"roles": roles})
    return client.simulate_put(
        "/siem/analysts/ana", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_province_wide_is_the_root_binding_and_audited(world, tmp_path: Path) -> None:
    client, directory, issuer = world
    granted = _put(client, issuer, ADMIN, {"province_wide": True}, ["platform-admin"])
    assert granted.status_code == 200, granted.text
    assert granted.json["whole_tree"] is True
    person = directory.get_person("ana")
    assert person is not None
    assert "security-analyst" in person.roles
    scope = resolve_scope(directory, "ana")
    assert scope.whole_tree
    assert scope.filter_path == "/"  # every event, those without an org too
    events = _recorded(tmp_path, "iam.scope.grant")
    assert [e["event"]["outcome"] for e in events] == ["success"]
    assert events[0]["labels"]["whole_tree"] == "true"
    assert events[0]["user"]["id"] == ADMIN


def test_a_node_binding_is_that_subtree(world) -> None:
    client, directory, issuer = world
    prefecture = directory.find_node("530100")
    assert prefecture is not None
    granted = _put(client, issuer, ADMIN, {"node_id": prefecture.id}, ["platform-admin"])
    assert granted.status_code == 200, granted.text
    scope = resolve_scope(directory, "ana")
    assert not scope.whole_tree
    assert scope.filter_path == prefecture.path
    token = issuer.token(time.time(), sub=ADMIN, realm_access={"roles": ["platform-admin"]})
    revoked = client.simulate_delete(
        "/siem/analysts/ana", headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json["analyst"] is False
    assert resolve_scope(directory, "ana").filter_path == prefecture.path  # the auditor keeps it


@pytest.mark.parametrize(
    "body", [{}, {"node_id": "x", "province_wide": True}, {"province_wide": "yes"}, []]
)
def test_the_body_names_exactly_one_scope(world, body: object) -> None:
    client, _directory, issuer = world
    refused = _put(client, issuer, ADMIN, body, ["platform-admin"])
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json["type"] == "urn:anbao:problem:invalid_org_input"


def test_a_grant_the_edge_refuses_is_audited_too(world, tmp_path: Path) -> None:
    """Every attempt is an audit event, a body that breaks the schema included."""
    client, _directory, issuer = world
    refused = _put(client, issuer, ADMIN, {"province_wide": "yes"}, ["platform-admin"])
    assert refused.status_code == 400, refused.text
    events = _recorded(tmp_path, "iam.scope.grant")
    assert [(e["event"]["outcome"], e["event"]["reason"]) for e in events] == [
        ("failure", "invalid_org_input")
    ]


def test_refused_grants_are_audited_too(world, tmp_path: Path) -> None:
    client, directory, issuer = world
    directory.bind("outsider", "/530000/530100", "org-admin")
    refused = _put(client, issuer, "outsider", {"province_wide": True}, ["org-admin"])
    assert refused.status_code in {403, 404, 409}, refused.text
    assert resolve_scope(directory, "ana").empty
    events = _recorded(tmp_path, "iam.scope.grant")
    assert [e["event"]["outcome"] for e in events] == ["failure"]


def _recorded(tmp_path: Path, action: str) -> list[dict[str, object]]:
    """Documents of ``action`` in the trail: still spooled, or shipped to the store."""
    spool = Spool(
        spool_config(Settings.load({"ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.sqlite3")}))
    )
    try:
        docs = [json.loads(r.document) for r in spool.peek(1000, 1 << 24)]
    finally:
        spool.close()
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:
        docs += [json.loads(doc) for (doc,) in db.execute("SELECT doc FROM events")]
    return [d for d in docs if d["event"]["action"] == action]
