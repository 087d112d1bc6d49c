"""The HTTP side: proof, heads, consistency and reveal through the real app and token checks."""

from __future__ import annotations

import dataclasses
import time

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from audit.integrity import merkle
from audit.integrity.model import SignedTreeHead
from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.model import PersonalData
from audit.recording.recorder import Recorder
from audit.recording.shipper import Shipper
from audit.recording.spool import Spool, SpoolConfig
from audit.sensitive.masking import FieldCipher, Keyring
from audit.stores.sqlite import SqliteAuditStore
from crypto import keys, sm2
from iam.orgs.testing import InMemoryOrgDirectory
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from tests.unit.audit.integrity.helpers import make_events


class KeepOpenStore(SqliteAuditStore):
    """The test client runs the app's shutdown after every request; the test closes at the end."""

    def close(self) -> None:
        pass

    def really_close(self) -> None:
        super().close()


class KeepOpenLog(SqliteIntegrityLog):
    def close(self) -> None:
        pass

    def really_close(self) -> None:
        super().close()


@pytest.fixture
def env(tmp_path):
    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    ring = Keyring.generate()
    ring.save(tmp_path / "keys.json")
    store = KeepOpenStore(tmp_path / "store.sqlite3")
    service = IntegrityService(
        KeepOpenLog(tmp_path / "integrity.sqlite3"),
        HeadSigner(sm2.PrivateKey.generate()),
        clock=time.time,
        policy=HeadPolicy(every_events=5, every_seconds=3600),
    )
    recorder = Recorder(Spool(SpoolConfig(tmp_path / "spool.sqlite3")), sealer=FieldCipher(ring))
    settings = Settings.load(
        {
            "ANBAO_KEYCLOAK_REQUIRED": "false",
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp_path / "keys.json"),
        }
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    DIRECTORY.people.clear()
    app = create_app(
        settings,
        Parts(
            verifier=verifier,
            audit_store=store,
            audit_integrity=service,
            audit_recorder=recorder,
            introspection=issuer.introspection(),
            org_directory=DIRECTORY,
        ),
    )
    events = [
        recorder.record_event(
            dataclasses.replace(e, sequence=None, personal=PersonalData(phone="13800138000"))
        )
        for e in make_events(12)
    ]
    shipper = Shipper(recorder.spool, store)
    records = recorder.spool.peek(100, 1 << 24)
    shipper.ship_once()
    for chunk in (records[:5], records[5:10], records[10:]):
        service.append_records(chunk)  # what the shipper's integrity hook does
    yield falcon.testing.TestClient(app), issuer, service, events, recorder
    shipper.unlock()
    recorder.close()
    recorder.spool.close()
    store.really_close()
    service.log.really_close()


#: The live directory the org-scope authority reads; ``auth`` binds each token's subject.
DIRECTORY = InMemoryOrgDirectory()


def auth(issuer, roles, *, bound="/", **claims):
    """A token whose subject is bound to ``bound`` (``/``: platform-wide; ``""``: nowhere)."""
    sub = f"sub-{bound}"
    DIRECTORY.bind(sub, bound, *roles)
    token = issuer.token(time.time(), sub=sub, realm_access={"roles": roles}, **claims)
    return {"Authorization": f"Bearer {token}"}


def test_proof_verifies_offline(env):
    client, issuer, _service, events, _ = env
    result = client.simulate_get(
        f"/audit/events/{events[7].id}/proof", headers=auth(issuer, ["auditor"])
    )
    assert result.status_code == 200, result.text
    body = result.json
    head = SignedTreeHead.from_json(body["tree_head"])
    assert head.size == 10
    leaf = merkle.SM3.leaf(body["leaf_input"].encode())
    merkle.verify_inclusion(
        merkle.SM3,
        index=body["leaf_index"],
        size=head.size,
        leaf_hash=leaf,
        path=[bytes.fromhex(p) for p in body["audit_path"]],
        root_hash=head.root,
    )
    keys.load_public_key(body["public_key"].encode()).verify(head.signature, head.signed_bytes())
    assert "13800138000" not in result.text  # the leaf holds ciphertext only


def test_proof_errors(env):
    client, issuer, _service, events, _ = env
    assert client.simulate_get(f"/audit/events/{events[0].id}/proof").status_code == 401
    denied = client.simulate_get(
        f"/audit/events/{events[0].id}/proof", headers=auth(issuer, ["seal-user"])
    )
    assert denied.status_code == 403
    missing = client.simulate_get("/audit/events/nope/proof", headers=auth(issuer, ["auditor"]))
    assert missing.status_code == 404
    assert missing.json["type"] == "urn:anbao:problem:audit_event_not_found"
    unsigned = client.simulate_get(
        f"/audit/events/{events[11].id}/proof", headers=auth(issuer, ["auditor"])
    )
    assert unsigned.status_code == 409
    scoped = client.simulate_get(
        f"/audit/events/{events[0].id}/proof",
        headers=auth(issuer, ["auditor"], bound="/other/county", org_path="/"),
    )
    assert scoped.status_code == 404
    claim_only = client.simulate_get(  # the token's claim alone reaches nothing
        f"/audit/events/{events[0].id}/proof",
        headers=auth(issuer, ["auditor"], bound="", org_path="/gov/finance"),
    )
    assert claim_only.status_code == 404
    bound = client.simulate_get(
        f"/audit/events/{events[0].id}/proof",
        headers=auth(issuer, ["auditor"], bound="/gov/finance", org_path="/other"),
    )
    assert bound.status_code == 200


def test_heads_and_consistency(env):
    client, issuer, service, _events, _ = env
    service.issue("main")
    result = client.simulate_get("/audit/heads", headers=auth(issuer, ["auditor"]))
    assert [h["tree_size"] for h in result.json["heads"]] == [5, 10, 12]
    assert service.signer.key_id in result.json["public_keys"]
    ndjson = client.simulate_get(
        "/audit/heads", params={"format": "ndjson"}, headers=auth(issuer, ["auditor"])
    )
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert len(ndjson.text.splitlines()) == 3
    cons = client.simulate_get(
        "/audit/heads/consistency",
        params={"first": "5", "second": "12"},
        headers=auth(issuer, ["auditor"]),
    )
    assert cons.status_code == 200, cons.text
    merkle.verify_consistency(
        merkle.SM3,
        first=5,
        second=12,
        first_root=bytes.fromhex(cons.json["first"]["root_hash"]),
        second_root=bytes.fromhex(cons.json["second"]["root_hash"]),
        proof=[bytes.fromhex(p) for p in cons.json["proof"]],
    )
    bad = client.simulate_get(
        "/audit/heads/consistency",
        params={"first": "x", "second": "12"},
        headers=auth(issuer, ["auditor"]),
    )
    assert bad.status_code == 400
    unknown = client.simulate_get(
        "/audit/heads/consistency",
        params={"first": "6", "second": "12"},
        headers=auth(issuer, ["auditor"]),
    )
    assert unknown.status_code == 404


def test_reveal_needs_analyst_with_step_up_and_is_audited(env):
    client, issuer, _service, events, recorder = env
    path = f"/audit/events/{events[3].id}/reveal"
    body = {"reason": "incident 7", "fields": ["personal.phone"]}
    assert (
        client.simulate_post(
            path, json=body, headers=auth(issuer, ["auditor"], acr="2")
        ).status_code
        == 403
    )
    weak = client.simulate_post(
        path, json=body, headers=auth(issuer, ["security-analyst"], acr="1")
    )
    assert weak.status_code == 401
    assert "insufficient_user_authentication" in weak.headers["www-authenticate"]
    ok = client.simulate_post(path, json=body, headers=auth(issuer, ["security-analyst"], acr="2"))
    assert ok.status_code == 200, ok.text
    assert ok.json["fields"] == {"personal.phone": "13800138000"}
    assert ok.headers["cache-control"] == "no-store"
    spooled = [r.document for r in recorder.spool.peek(100, 1 << 24)]
    assert any(b'"audit.pii.reveal"' in d for d in spooled)
    no_reason = client.simulate_post(
        path, json={}, headers=auth(issuer, ["security-analyst"], acr="2")
    )
    assert no_reason.status_code == 400


def test_reveal_refuses_a_session_the_issuer_ended(env):
    """Issue 16 §2.3: a still-unexpired token of a logged-out analyst decrypts nothing."""
    client, issuer, _service, events, _recorder = env
    token = issuer.token(time.time(), realm_access={"roles": ["security-analyst"]}, acr="2")
    issuer.revoked.add(token)
    ended = client.simulate_post(
        f"/audit/events/{events[3].id}/reveal",
        json={"reason": "incident 7", "fields": ["personal.phone"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ended.status_code == 401
    assert "13800138000" not in ended.text
