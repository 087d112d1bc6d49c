"""The audit middleware in the real app: every API request becomes a durable audit event."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import falcon.asgi
import falcon.testing
import pytest

from anbao.app import Parts, create_app
from anbao.settings import Environment, Settings, SettingsError
from anbao.wiring.audit import (
    AuditRuntime,
    RecorderEventSink,
    build_audit_runtime,
    check_request_journal,
    keycloak_event_sink,
)
from audit.errors import AuditStoreUnavailable
from audit.model import PersonalData
from audit.ports import RawDocument, WriteResult
from audit.recording.middleware import AuditMiddleware
from audit.recording.recorder import Recorder
from audit.recording.shipper import Shipper
from audit.recording.spool import Backpressure, FsyncPolicy, Spool, SpoolConfig
from audit.stores.sqlite import SqliteAuditStore
from iam.tokens.testing import LocalIssuer
from iam.tokens.verifier import TokenVerifier
from tests.unit.clocks import LIVENESS_SECONDS


class KeptOpenStore(SqliteAuditStore):
    """falcon's TestClient runs the ASGI lifespan around every request; keep the store open."""

    def close(self) -> None:
        pass


class DownStore(KeptOpenStore):
    def write_documents(self, documents: Sequence[RawDocument]) -> WriteResult:
        raise AuditStoreUnavailable("down for the test")


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer(issuer="http://127.0.0.1:8080/realms/anbao")


def build(
    tmp_path: Path,
    issuer: LocalIssuer,
    store_cls: type[KeptOpenStore] = KeptOpenStore,
    **spool: object,
) -> tuple[falcon.testing.TestClient, AuditRuntime]:
    store = store_cls(tmp_path / "store.db")
    spool_obj = Spool(SpoolConfig(path=tmp_path / "spool.db", **spool))  # type: ignore[arg-type]
    runtime = AuditRuntime(Recorder(spool_obj), Shipper(spool_obj, store))
    settings = Settings.load(
        {"ANBAO_KEYCLOAK_REQUIRED": "false", "ANBAO_AUDIT_SKIP_PATHS": "/metrics"}
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience="anbao-api", jwks=issuer, clock=time.time
    )
    app = create_app(settings, Parts(verifier=verifier, audit_store=store, audit_runtime=runtime))
    return falcon.testing.TestClient(app), runtime


@pytest.fixture(params=list(FsyncPolicy))
def fsync(request: pytest.FixtureRequest) -> FsyncPolicy:
    """The spool's fsync policy (``interval`` commits on the event loop, the others on the
    recorder's group thread)."""
    return FsyncPolicy(request.param)


@pytest.fixture
def app(
    tmp_path: Path, issuer: LocalIssuer, fsync: FsyncPolicy
) -> Iterator[tuple[falcon.testing.TestClient, AuditRuntime]]:
    client, runtime = build(tmp_path, issuer, fsync=fsync)
    yield client, runtime
    runtime.stop()


def spooled(runtime: AuditRuntime) -> list[dict[str, Any]]:
    """Everything recorded on the api stream, shipped or not (the lifespan runs the shipper)."""
    runtime.shipper.on_stored = None  # the app's integrity log closed with its last lifespan
    assert runtime.shipper.drain(timeout=LIVENESS_SECONDS)
    return [dict(d) for d in runtime.shipper.store.scan("api")]


def test_refused_request_is_recorded_as_failure(
    app: tuple[falcon.testing.TestClient, AuditRuntime],
) -> None:
    client, runtime = app
    result = client.simulate_get(
        "/whoami", headers={"User-Agent": "pytest-agent", "X-Request-ID": "req-42"}
    )
    assert result.status_code == 401
    (doc,) = spooled(runtime)
    assert doc["event"]["action"] == "api.get"  # type: ignore[index]
    assert doc["event"]["outcome"] == "failure"  # type: ignore[index]
    assert doc["http"] == {"request": {"method": "GET"}, "response": {"status_code": 401}}
    assert doc["url"] == {"path": "/whoami"}
    assert doc["trace"] == {"id": "req-42"}
    assert doc["user_agent"] == {"original": "pytest-agent"}
    assert doc["event"]["duration"] >= 0  # type: ignore[index,operator]
    assert doc["anbao"]["stream"] == "api"  # type: ignore[index]


def test_authenticated_request_records_who(
    app: tuple[falcon.testing.TestClient, AuditRuntime], issuer: LocalIssuer
) -> None:
    client, runtime = app
    token = issuer.token(time.time(), realm_access={"roles": ["auditor"]})
    assert (
        client.simulate_get("/whoami", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    client.simulate_get("/metrics")  # skipped by setting
    (doc,) = spooled(runtime)
    assert doc["event"]["outcome"] == "success"  # type: ignore[index]
    assert "auditor" in doc["user"]["roles"]  # type: ignore[index,operator]
    assert doc["user"]["id"]  # type: ignore[index]
    assert doc["resource"] == {"type": "route", "id": "/whoami"}


def test_full_spool_turns_the_response_into_503(tmp_path: Path, issuer: LocalIssuer) -> None:
    client, runtime = build(
        tmp_path, issuer, DownStore, capacity_bytes=1200, backpressure=Backpressure.FAIL
    )
    try:
        statuses = [client.simulate_get("/healthz").status_code for _ in range(10)]
        body = client.simulate_get("/healthz").json
    finally:
        runtime.stop()
    assert statuses[0] == 200
    assert statuses[-1] == 503
    assert body["type"].endswith("audit_spool_full")


def test_keycloak_events_are_recorded_once_even_when_redelivered(tmp_path: Path) -> None:
    spool = Spool(SpoolConfig(path=tmp_path / "spool.db"))
    recorder = Recorder(spool)
    sink = RecorderEventSink(recorder)
    page = [
        {
            "@timestamp": "2026-11-26T08:00:00.123Z",
            "event": {
                "id": "8e0d1f0c-1111-4e7e-9a55-000000000001",
                "category": ["authentication"],
                "type": ["start"],
                "action": "login",
                "outcome": "success",
            },
            "user": {"id": "u-1", "name": "alice"},
            "source": {"ip": "10.1.2.3"},
            "keycloak": {"realm": "anbao", "client_id": "portal", "type": "LOGIN"},
        },
        {
            "@timestamp": "2026-11-26T08:00:01.000Z",
            "event": {
                "id": "8e0d1f0c-1111-4e7e-9a55-000000000002",
                "category": ["iam"],
                "type": ["admin", "creation", "user"],
                "action": "user-create",
                "outcome": "success",
            },
            "user": {"id": "admin-1", "target": {"id": "u-9"}},
            "keycloak": {"realm": "anbao", "resource_path": "users/u-9"},
        },
    ]
    sink.emit(page)
    sink.emit(page)  # the puller crashed before saving its cursor
    sink.emit(page[1:])
    docs = [json.loads(r.document) for r in spool.peek(100)]
    recorder.close()
    spool.close()
    assert [(d["event"]["action"], d["anbao"]["sequence"]) for d in docs] == [
        ("keycloak.login", 0),
        ("keycloak.user-create", 1),
    ]
    assert docs[0]["labels"] == {
        "keycloak_realm": "anbao",
        "keycloak_client_id": "portal",
        "keycloak_type": "LOGIN",
    }
    assert docs[1]["labels"]["target_user_id"] == "u-9"
    assert docs[0]["service"] == {"name": "keycloak"}


def test_keycloak_sink_from_settings_writes_the_service_spool(tmp_path: Path) -> None:
    settings = Settings.load({"ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.db")})
    event = {
        "@timestamp": "2026-11-26T08:00:00.123Z",
        "event": {"id": "kc-1", "action": "logout", "outcome": "success", "type": ["end"]},
    }
    with keycloak_event_sink(settings) as sink:
        sink.emit([event])
    spool = Spool(SpoolConfig(path=tmp_path / "spool.db"))
    (record,) = spool.peek(10)
    spool.close()
    assert (record.event_id, record.stream, record.sequence) == ("kc-1", "iam", 0)


def test_runtime_from_settings_seals_personal_data_before_the_spool(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.db"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp_path / "keys.json"),
        }
    )
    runtime = build_audit_runtime(settings, KeptOpenStore(tmp_path / "store.db"))
    try:
        event = runtime.recorder.record(
            "data.read", "success", personal=PersonalData(phone="13800000000")
        )
    finally:
        runtime.stop()
    spool = Spool(SpoolConfig(path=tmp_path / "spool.db"))
    (record,) = spool.peek(10)
    spool.close()
    assert b"13800000000" not in record.document
    assert json.loads(record.document)["personal"]["phone"] == event.personal.phone


def test_the_standalone_middleware_records_each_request(tmp_path: Path, fsync: FsyncPolicy) -> None:
    spool = Spool(SpoolConfig(path=tmp_path / "spool.db", fsync=fsync))
    recorder = Recorder(spool, service="other-app")

    class Thing:
        async def on_get(
            self, req: falcon.asgi.Request, resp: falcon.asgi.Response, tid: str
        ) -> None:
            resp.media = {"id": tid}

    app = falcon.asgi.App(middleware=[AuditMiddleware(recorder, skip_paths=["/healthz"])])
    app.add_route("/things/{tid}", Thing())
    client = falcon.testing.TestClient(app)
    try:
        assert client.simulate_get("/things/7", headers={"User-Agent": "t/1"}).status_code == 200
        assert client.simulate_get("/healthz").status_code == 404
        (record,) = spool.peek(10)
    finally:
        recorder.close()
        spool.close()
    event = json.loads(record.document)
    assert event["url"]["path"] == "/things/7"
    assert event["resource"] == {"id": "/things/{tid}", "type": "route"}
    assert (event["service"]["name"], event["user_agent"]["original"]) == ("other-app", "t/1")
    assert event["http"]["response"]["status_code"] == 200


def test_request_journal_leftovers_stop_production_and_are_logged_in_development(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    left = tmp_path / "spool.db.requests"
    left.mkdir()
    (left / "1-1-ab.jnl").write_bytes(b"AJF1")
    env = {
        "ANBAO_AUDIT_SPOOL_PATH": str(tmp_path / "spool.db"),
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp_path / "keys.json"),
    }
    with pytest.raises(SettingsError, match=r"audit\.spool_path"):
        check_request_journal(
            dataclasses.replace(Settings.load(env), environment=Environment.PRODUCTION)
        )
    runtime = build_audit_runtime(Settings.load(env), KeptOpenStore(tmp_path / "store.db"))
    runtime.stop()
    assert str(left) in caplog.text


def test_a_probe_the_settings_audit_is_audited(
    app: tuple[falcon.testing.TestClient, AuditRuntime],
) -> None:
    """``/healthz`` is answered before Falcon only where the audit skips it; here it does not."""
    client, runtime = app
    assert client.simulate_get("/healthz", headers={"X-Request-ID": "probe-7"}).status_code == 200
    (doc,) = spooled(runtime)
    assert doc["url"] == {"path": "/healthz"}
    assert doc["trace"] == {"id": "probe-7"}
