"""``POST /seals/verify`` through the real app: public, content types, problems."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Settings
from crypto.seals.format import sign_bytes, sign_ofd
from crypto.seals.format.testing import minimal_ofd
from crypto.seals.resources import FileTrust
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier

from .conftest import NOW


class _Store:
    kind = "memory"

    def ping(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Trust:
    def __init__(self, trust):
        self._t = trust

    def trust(self):
        return self._t


@pytest.fixture
def client(trust):
    issuer = LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    settings = Settings.load(
        {"ANBAO_KEYCLOAK_REQUIRED": "false", "ANBAO_SERVER_MAX_BODY_BYTES": "4000000"}
    )
    parts = Parts(
        verifier=verifier,
        audit_store=_Store(),
        seal_trust=_Trust(trust),
        clock=(NOW + timedelta(days=1)).timestamp,
    )
    return falcon.testing.TestClient(create_app(settings, parts))


def test_ofd_verifies_without_a_token(client, sample):
    signed = sign_ofd(
        minimal_ofd(),
        seal=sample.seal,
        key=sample.key,
        cert=sample.cert,
        now=NOW + timedelta(hours=1),
    )
    resp = client.simulate_post(
        "/seals/verify", body=signed, headers={"Content-Type": "application/ofd"}
    )
    assert resp.status_code == 200
    assert resp.json["status"] == "valid", resp.json
    assert resp.json["kind"] == "ofd"


def test_detached_json_and_at(client, sample):
    sig = sign_bytes(
        b"doc", seal=sample.seal, key=sample.key, cert=sample.cert, now=NOW + timedelta(hours=1)
    )
    body = {
        "signature": base64.b64encode(sig).decode(),
        "document": base64.b64encode(b"doc").decode(),
    }
    resp = client.simulate_post("/seals/verify", json=body)
    assert resp.json["status"] == "valid"
    early = client.simulate_post(
        "/seals/verify", json=body, params={"at": "2026-11-26T08:00:00+00:00"}
    )
    checks = {c["name"]: c["status"] for c in early.json["signatures"][0]["checks"]}
    assert checks["signing_time"] == "fail"


def test_garbage_is_an_invalid_report(client):
    resp = client.simulate_post(
        "/seals/verify",
        body=b"\x30\x03\x02\x01",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 200
    assert resp.json["status"] == "invalid"


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"body": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"body": b"{", "headers": {"Content-Type": "application/json"}}, 400),
        ({"json": {"signature": "!!"}}, 400),
        ({"json": {"signature": "AA=="}, "params": {"at": "soon"}}, 400),
    ],
)
def test_bad_requests_are_problems(client, kwargs, status):
    resp = client.simulate_post("/seals/verify", **kwargs)
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_file_trust_reloads_changed_files(tmp_path, sample):
    roots = tmp_path / "roots.pem"
    roots.write_bytes(sample.pki.root.pem())
    source = FileTrust(str(roots))
    assert source.trust().roots == (sample.pki.root,)
    roots.write_bytes(sample.pki.root.pem() + sample.pki.intermediate.pem())
    import os

    os.utime(roots, (time.time() + 5, time.time() + 5))
    assert len(source.trust().roots) == 2


def test_a_certificate_or_crl_posted_as_the_sealed_file_is_a_client_mistake(client, sample):
    for body in (sample.cert.der, sample.cert.pem(), sample.pki.crl().der):
        resp = client.simulate_post(
            "/seals/verify", body=body, headers={"Content-Type": "application/octet-stream"}
        )
        assert resp.status_code == 400, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "not an OFD, seal or seal signature" in resp.json["detail"]
