from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import falcon
import falcon.asgi
import falcon.inspect
import falcon.testing
import pytest

from anbao import logs
from anbao.web.accesslog import AccessLog
from iam.tokens.testing import LocalIssuer
from tests.unit.anbao.conftest import FakeAuditStore, problem


def test_healthz_is_public_and_cheap(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/healthz")
    assert result.status_code == 200
    assert result.json == {"status": "ok"}


def test_readyz_reports_each_dependency(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/readyz")
    assert result.status_code == 200, result.text
    checks = result.json["checks"]
    assert checks["audit_store:memory"]["status"] == "up"
    assert isinstance(checks["audit_store:memory"]["latency_ms"], float)
    # Keycloak is not required here and unreachable (sockets are blocked in unit tests).
    assert checks["keycloak"]["status"] == "down"
    assert checks["keycloak"]["required"] is False


def test_readyz_is_503_when_a_required_dependency_is_down(
    client: falcon.testing.TestClient, audit_store: FakeAuditStore
) -> None:
    audit_store.up = False
    result = client.simulate_get("/readyz")
    assert result.status_code == 503
    assert result.json["status"] == "not_ready"
    assert (
        result.json["checks"]["audit_store:memory"]["error"]
        == "The in-memory store is switched off."
    )


def test_request_id_is_echoed_or_generated(client: falcon.testing.TestClient) -> None:
    echoed = client.simulate_get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.simulate_get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = client.simulate_get("/healthz", headers={"X-Request-ID": "a b<script>"})
    assert hostile.headers["x-request-id"] != "a b<script>"


def test_protected_route_denies_without_token(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/whoami")
    body = problem(result)
    assert result.status_code == 401
    assert body["type"] == "urn:anbao:problem:unauthenticated"
    assert result.headers["www-authenticate"].startswith("Bearer")


def test_protected_route_accepts_a_valid_token(
    client: falcon.testing.TestClient, issuer: LocalIssuer
) -> None:
    token = issuer.token(time.time(), realm_access={"roles": ["auditor"]})
    result = client.simulate_get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert result.status_code == 200, result.text
    assert result.json["roles"] == ["auditor"]


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/nope", "GET", 404, "not_found"),
        ("/healthz", "DELETE", 405, "method_not_allowed"),
    ],
)
def test_falcon_errors_are_problems(
    client: falcon.testing.TestClient, path: str, method: str, status: int, code: str
) -> None:
    result = client.simulate_request(method, path)
    body = problem(result)
    assert result.status_code == status
    assert body["type"] == f"urn:anbao:problem:{code}"
    assert body["request_id"] == result.headers["x-request-id"]


class _Echo:
    auth_required = False

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = await req.get_media()


class _Boom:
    auth_required = False

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        raise RuntimeError("database password=swordfish exploded")


def test_oversized_body_is_413(make_app: Callable[..., falcon.asgi.App]) -> None:
    app = make_app(ANBAO_SERVER_MAX_BODY_BYTES="2048")
    app.add_route("/echo", _Echo())
    result = falcon.testing.TestClient(app).simulate_post(
        "/echo", body=b"x" * 4096, content_type="application/json"
    )
    assert result.status_code == 413
    assert problem(result)["type"] == "urn:anbao:problem:content_too_large"


def test_malformed_json_is_400_and_unknown_media_type_is_415(
    make_app: Callable[..., falcon.asgi.App],
) -> None:
    app = make_app()
    app.add_route("/echo", _Echo())
    client = falcon.testing.TestClient(app)
    bad = client.simulate_post("/echo", body=b"{not json", content_type="application/json")
    assert bad.status_code == 400
    assert problem(bad)["type"] == "urn:anbao:problem:bad_request"
    odd = client.simulate_post("/echo", body=b"<x/>", content_type="application/x-unknown")
    assert odd.status_code == 415
    assert problem(odd)["type"] == "urn:anbao:problem:unsupported_media_type"


def test_unhandled_exception_is_opaque_500_and_logged(
    make_app: Callable[..., falcon.asgi.App], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    app.add_route("/boom", _Boom())
    with caplog.at_level(logging.ERROR, logger="anbao.errors"):
        result = falcon.testing.TestClient(app).simulate_get("/boom")
    body = problem(result)
    assert result.status_code == 500
    assert "swordfish" not in result.text
    assert "Traceback" not in result.text
    assert body["request_id"] == result.headers["x-request-id"]
    assert any(r.exc_info for r in caplog.records)


def test_openapi_matches_the_routes(
    client: falcon.testing.TestClient, make_app: Callable[..., falcon.asgi.App]
) -> None:
    document = client.simulate_get("/openapi.json").json
    assert document["openapi"] == "3.1.0"
    served = {
        (route.path, m.method.lower())
        for route in falcon.inspect.inspect_routes(make_app())
        for m in route.methods
        if not m.internal and not route.path.startswith("/console")  # HTML pages, not the API
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["summary"], (path, method)
            assert "default" in operation["responses"]
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert "security" not in document["paths"]["/whoami"]["get"]


def test_metrics_count_requests_by_route_and_status(client: falcon.testing.TestClient) -> None:
    client.simulate_get("/healthz")
    client.simulate_get("/whoami")
    text = client.simulate_get("/metrics").text
    assert 'anbao_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'anbao_http_requests_total{method="GET",route="/whoami",status="401"} 1.0' in text
    assert "anbao_http_request_duration_seconds_bucket" in text


def test_access_log_is_json_with_request_id(
    make_app: Callable[..., falcon.asgi.App], tmp_path: Path
) -> None:
    log_file = tmp_path / "access.log"
    with log_file.open("wb") as out:
        access_log = AccessLog(out.fileno())
        client = falcon.testing.TestClient(make_app(access_log=access_log))
        client.simulate_get("/openapi.json", headers={"X-Request-ID": "trace-me"})
        client.simulate_get("/whoami", headers={"Authorization": "Bearer sekrit.token.value"})
        access_log.flush()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [line["http.response.status_code"] for line in lines] == [200, 401]
    assert lines[0]["request_id"] == "trace-me"
    assert lines[0]["url.path"] == "/openapi.json"
    assert "sekrit" not in log_file.read_text()


def test_unhandled_errors_log_as_json_with_request_id(
    make_app: Callable[..., falcon.asgi.App], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app()
    app.add_route("/boom", _Boom())
    logs.configure("info")
    try:
        falcon.testing.TestClient(app).simulate_get("/boom", headers={"X-Request-ID": "boom-1"})
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    error = next(line for line in lines if line["log.logger"] == "anbao.errors")
    assert error["request_id"] == "boom-1"
    assert "swordfish" not in json.dumps(error)  # password=... masked even in the stack trace
    assert "RuntimeError" in error["error.stack_trace"]


def test_access_log_buffers_until_full_or_flushed(tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    line = {
        "request_id": "r1",
        "method": "GET",
        "route": "/x",
        "status": 200,
        "duration_ms": 1.5,
        "client": None,
        "user_id": None,
    }
    with log_file.open("wb") as out:
        access_log = AccessLog(out.fileno(), max_lines=3)
        for n in (1, 2):
            access_log.write(path=f"/{n}", **line)
        assert log_file.read_bytes() == b""
        access_log.write(path="/3", **line)  # third line fills the buffer
        assert len(log_file.read_text().splitlines()) == 3
        access_log.write(path='/4"\n\u2028<', **line)  # client-controlled text is escaped
        access_log.flush()
    paths = [json.loads(x)["url.path"] for x in log_file.read_text().splitlines()]
    assert paths == ["/1", "/2", "/3", '/4"\n\u2028<']


def test_unloadable_seal_trust_is_a_settings_error(tmp_path: Path) -> None:
    from anbao.settings import Settings, SettingsError
    from anbao.wiring.seals import build_seal_trust

    bad = tmp_path / "roots.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    settings = Settings.load({"ANBAO_SEAL_VERIFY_TRUST_ROOTS_FILE": str(bad)})
    with pytest.raises(SettingsError) as info:
        build_seal_trust(settings)
    assert info.value.name == "seal_verify.trust_roots_file"


def test_the_platform_serves_reveal_with_its_own_recorder(tmp_path: Path) -> None:
    """``anbao serve`` builds no ``Parts``: reveal (a high-risk route, issue 16 §2.3) is served
    with the audit runtime's recorder, which records each reveal before answering."""
    from anbao.app import Parts, create_app
    from anbao.settings import Settings
    from iam.orgs.testing import InMemoryOrgDirectory

    settings = Settings.load({"ANBAO_KEYCLOAK_REQUIRED": "false", "ANBAO_DATA_DIR": str(tmp_path)})
    app = create_app(settings, Parts(org_directory=InMemoryOrgDirectory()))
    paths = falcon.testing.TestClient(app).simulate_get("/openapi.json").json["paths"]
    assert "post" in paths["/audit/events/{event_id}/reveal"]


class _SecretPath:
    auth_required = False
    path_is_secret = True

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, token: str
    ) -> None:
        del req, token
        resp.text = "ok"


def test_a_secret_path_is_logged_by_its_route_template(
    make_app: Callable[..., falcon.asgi.App], tmp_path: Path
) -> None:
    """An activation link in the access log would let its readers use it."""
    log_file = tmp_path / "access.log"
    with log_file.open("wb") as out:
        access_log = AccessLog(out.fileno())
        app = make_app(access_log=access_log)
        app.add_route("/activate/{token}", _SecretPath())
        falcon.testing.TestClient(app).simulate_get("/activate/u-1.one-time-secret-value")
        access_log.flush()
    (line,) = [json.loads(x) for x in log_file.read_text().splitlines()]
    assert line["url.path"] == "/activate/{token}"
    assert "one-time-secret-value" not in log_file.read_text()
