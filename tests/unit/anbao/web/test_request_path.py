"""The per-request path: header map, request ids, body checks, metrics buckets, access log."""

from __future__ import annotations

import asyncio
import calendar
import io
import json
import marshal
import os
import signal
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

import falcon
import falcon.asgi
import falcon.testing
import pytest

from anbao.web.accesslog import _FRAME, AccessLog, writer_main
from anbao.web.asgi_app import AsgiApp
from anbao.web.metrics import Metrics
from anbao.web.middleware import _joined_headers, header_map, request_ids
from anbao.web.resources import Health


def _request(headers: list[tuple[bytes, bytes]]) -> falcon.asgi.Request:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    return falcon.asgi.Request(scope, receive)


def test_header_map_is_falcons_view_of_the_headers() -> None:
    headers = [(b"host", b"h"), (b"x-request-id", b"a"), (b"accept", b"x"), (b"accept", b"y")]
    req = _request(headers)
    assert dict(header_map(req)) == dict(_joined_headers(req))
    assert header_map(req)[b"accept"] == b"x,y"
    assert req.get_header("Accept") == "x,y"


def test_request_ids_are_32_hex_unique_and_carry_the_prefix() -> None:
    ids = request_ids("f" * 16)
    first = [next(ids) for _ in range(600)]  # crosses two blocks of the counter
    assert len(set(first)) == 600
    assert all(len(i) == 32 and i.startswith("f" * 16) for i in first)
    assert [int(i[16:], 16) for i in first] == list(range(600))


def test_two_processes_get_different_prefixes() -> None:
    assert next(request_ids())[:16] != next(request_ids())[:16]


class _Echo:
    auth_required = False

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.data = await req.stream.read()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Transfer-Encoding": "chunked"}, 411),
        ({"Content-Length": "0"}, 200),
        ({"Content-Length": "5000"}, 413),
        ({"Content-Length": "nope"}, 400),
        ({}, 200),
    ],
)
def test_body_headers_are_checked(
    make_app: Callable[..., AsgiApp], headers: dict[str, str], status: int
) -> None:
    app = make_app(ANBAO_SERVER_MAX_BODY_BYTES="2048")
    app.add_route("/echo", _Echo())
    result = falcon.testing.TestClient(app).simulate_post("/echo", headers=headers)
    assert result.status_code == status
    assert len(result.headers["x-request-id"]) == 32


def test_latency_buckets_are_cumulative_and_inclusive() -> None:
    metrics = Metrics()
    for elapsed_ns in (1_000_000, 1_000_001, 20_000_000, 20_000_000_000):
        metrics.record("/r", "GET", 200, elapsed_ns)
    text = metrics.render().decode()
    labels = 'method="GET",route="/r",status="200"'
    assert f"anbao_http_requests_total{{{labels}}} 4.0" in text
    assert f'anbao_http_request_duration_seconds_bucket{{le="0.001",{labels}}} 1.0' in text
    assert f'anbao_http_request_duration_seconds_bucket{{le="0.0025",{labels}}} 2.0' in text
    assert f'anbao_http_request_duration_seconds_bucket{{le="0.025",{labels}}} 3.0' in text
    assert f'anbao_http_request_duration_seconds_bucket{{le="10.0",{labels}}} 3.0' in text
    assert f'anbao_http_request_duration_seconds_bucket{{le="+Inf",{labels}}} 4.0' in text
    assert f"anbao_http_request_duration_seconds_sum{{{labels}}} 20.022000001" in text


def _record(log: AccessLog, path: str, ended: int | None = None) -> None:
    ended = time.perf_counter_ns() if ended is None else ended
    log.record(ended, "rid-1", "GET", "/x", path, 200, 1_234_567, "::1", "user-1")


def test_access_lines_carry_wall_clock_time_and_duration(tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    with log_file.open("wb") as out:
        log = AccessLog(out.fileno())
        before = time.time()
        _record(log, "/a")
        log.flush()
    line = json.loads(log_file.read_text())
    stamp = calendar.timegm(time.strptime(line["@timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(stamp - before) < 2
    assert line["event.duration_ms"] == pytest.approx(1.235)
    assert line["message"] == "GET /x 200"
    assert (line["client.address"], line["user.id"]) == ("::1", "user-1")


def test_writer_process_writes_the_lines(tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"

    async def serve() -> int | None:
        with log_file.open("wb") as out:
            log = AccessLog(out.fileno(), max_lines=3, writer_process=True)
            await log.process_startup(None, None)
            writer = log._writer
            for n in range(7):
                _record(log, f"/{n}")
            await log.process_shutdown(None, None)
            return None if writer is None else writer.returncode

    assert asyncio.run(serve()) == 0
    paths = [json.loads(x)["url.path"] for x in log_file.read_text().splitlines()]
    assert paths == [f"/{n}" for n in range(7)]


def test_lines_are_formatted_here_when_the_writer_is_gone(tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"

    async def serve() -> None:
        with log_file.open("wb") as out:
            log = AccessLog(out.fileno(), writer_process=True)
            await log.process_startup(None, None)
            assert log._writer is not None
            log._writer.kill()
            log._writer.wait()
            _record(log, "/after")
            log.flush()  # the broken pipe switches to formatting in this process
            assert log._writer is None
            await log.process_shutdown(None, None)

    asyncio.run(serve())
    assert [json.loads(x)["url.path"] for x in log_file.read_text().splitlines()] == ["/after"]


def test_writer_main_reads_frames_until_end_of_input(tmp_path: Path) -> None:
    epoch = time.time_ns() - time.perf_counter_ns()
    entry = (time.perf_counter_ns(), None, "GET", "/x", '/"\n', 404, 5, None, None)
    body = marshal.dumps((epoch, [entry, entry]))
    source = io.BytesIO(_FRAME.pack(len(body)) + body + b"\x01")  # a torn frame at the end
    out = tmp_path / "out.log"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    # writer_main ignores SIGINT/SIGTERM, as its own process should; here it runs in the test
    # process, whose later children would inherit the ignored signals (a SIGTERM-proof child).
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        writer_main(source, fd)
    finally:
        os.close(fd)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["url.path"], x["request_id"]) for x in lines] == [('/"\n', None)] * 2


class _Status:
    auth_required = False

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        statuses: dict[str, str | int] = {"text": "201 Created", "int": 202}
        kind = req.get_param("kind") or ""
        resp.status = HTTPStatus.ACCEPTED if kind == "enum" else statuses[kind]


def test_every_form_of_status_is_counted_by_its_code(
    make_app: Callable[..., AsgiApp],
) -> None:
    app = make_app()
    app.add_route("/status", _Status())
    client = falcon.testing.TestClient(app)
    for kind in ("text", "int", "enum", "text"):
        client.simulate_get("/status", params={"kind": kind})
    text = client.simulate_get("/metrics").text
    labels = 'method="GET",route="/status"'
    assert f'anbao_http_requests_total{{{labels},status="201"}} 2.0' in text
    assert f'anbao_http_requests_total{{{labels},status="202"}} 2.0' in text


def test_a_forward_only_client_iterable_is_logged_not_fatal(
    make_app: Callable[..., AsgiApp], tmp_path: Path
) -> None:
    """ASGI lets ``scope["client"]`` be any iterable; Falcon's test client passes an iterator."""
    log_file = tmp_path / "access.log"
    with log_file.open("wb") as out:
        log = AccessLog(out.fileno())
        client = falcon.testing.TestClient(make_app(access_log=log))
        result = client.simulate_get("/openapi.json", remote_addr="10.1.2.3")
        log.flush()
    assert result.status_code == 200
    assert json.loads(log_file.read_text())["client.address"] == "10.1.2.3"


def test_probes_are_counted_not_written_to_the_access_log(
    make_app: Callable[..., AsgiApp], tmp_path: Path
) -> None:
    """A load balancer's liveness and readiness probes stay out of the access log (and cost no
    line); the metrics still count them, and every other request is logged."""
    log_file = tmp_path / "access.log"
    with log_file.open("wb") as out:
        log = AccessLog(out.fileno())
        client = falcon.testing.TestClient(make_app(access_log=log))
        for path in ("/healthz", "/readyz", "/healthz", "/whoami"):
            client.simulate_get(path)
        log.flush()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [line["url.path"] for line in lines] == ["/whoami"]
    text = client.simulate_get("/metrics").text
    assert 'anbao_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text


def test_methods_outside_http_core_share_one_metrics_label() -> None:
    """The method comes from the client: made-up ones must not grow the series without bound."""
    metrics = Metrics()
    for method in ("GET", "PROPFIND", "BREW", "X" * 40):
        metrics.record("/x", method, 405, 1_000)
    text = metrics.render().decode()
    assert 'anbao_http_requests_total{method="GET",route="/x",status="405"} 1.0' in text
    assert 'anbao_http_requests_total{method="other",route="/x",status="405"} 3.0' in text
    assert "BREW" not in text


class _Seen:
    """A Falcon middleware noting the paths that reach Falcon's middleware."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        del resp
        self.paths.append(req.path)


def test_liveness_is_answered_before_falcon_as_falcon_would(
    make_app: Callable[..., AsgiApp],
) -> None:
    """The probe pays none of Falcon's edge; its answer is the one Falcon's route gives."""
    app, seen = make_app(), _Seen()
    app.add_middleware(seen)
    client = falcon.testing.TestClient(app)
    edge = client.simulate_get("/healthz", headers={"X-Request-ID": "probe-1"})
    falcon_route = client.simulate_get("/healthz/", headers={"X-Request-ID": "probe-2"})
    assert seen.paths == ["/healthz"]  # the second request only (trailing slash stripped)
    assert (edge.status_code, edge.text) == (falcon_route.status_code, falcon_route.text)
    assert edge.headers["x-request-id"] == "probe-1"
    assert {k: v for k, v in edge.headers.items() if k != "x-request-id"} == {
        k: v for k, v in falcon_route.headers.items() if k != "x-request-id"
    }
    text = client.simulate_get("/metrics").text
    assert 'anbao_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text


def test_liveness_refuses_ids_the_middleware_refuses(client: falcon.testing.TestClient) -> None:
    """Repeated ids are joined by Falcon, so refused: the edge answer refuses them too."""
    result = client.simulate_get(
        "/healthz", headers=[("X-Request-ID", "one"), ("X-Request-ID", "two")]
    )
    assert result.headers["x-request-id"] not in {"one", "two", "one,two"}
    assert len(result.headers["x-request-id"]) == 32


def test_a_probe_declaring_a_body_goes_through_the_body_checks(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/healthz", headers={"Content-Length": str(10**9)})
    assert result.status_code == 413


def test_liveness_is_answered_before_falcon_only_while_it_is_public(
    make_app: Callable[..., AsgiApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge answer checks no token: were liveness made to require one, Falcon answers."""
    monkeypatch.setattr(Health, "auth_required", True)
    app, seen = make_app(), _Seen()
    app.add_middleware(seen)
    result = falcon.testing.TestClient(app).simulate_get("/healthz")
    assert seen.paths == ["/healthz"]
    assert result.status_code == 401
