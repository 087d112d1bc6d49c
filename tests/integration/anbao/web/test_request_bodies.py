"""Request bodies on a real uvicorn server, over raw sockets: a body declared too large is
refused from its header, and a body that does not arrive times out; both as problem+json."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.integration.anbao.serving import serve

#: Generous: the verdict is whether an answer comes at all, never how fast.
PATIENCE = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    env = {"ANBAO_SERVER_BODY_TIMEOUT_SECONDS": "2", "ANBAO_KEYCLOAK_REQUIRED": "false"}
    with serve(tmp_path_factory.mktemp("bodies"), env) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def _exchange(
    address: tuple[str, int], head: str, body: bytes = b""
) -> tuple[int, dict[str, str], dict[str, object]]:
    """Send the request head (and what there is of the body), read the whole answer."""
    with socket.create_connection(address, timeout=PATIENCE) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    header_block, payload = data.split(b"\r\n\r\n", 1)
    lines = header_block.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(payload)


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_a_body_declared_too_large_is_refused_without_waiting_for_it(
    server: tuple[str, int],
) -> None:
    """Before the fix no answer came at all: Falcon waited for a first body chunk."""
    status, headers, problem = _exchange(
        server,
        "POST /seals/verify HTTP/1.1\nHost: anbao\nContent-Type: application/json\n"
        "Content-Length: 50000000\n",
    )
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert problem["type"] == "urn:anbao:problem:content_too_large"
    assert headers["connection"] == "close"  # the unread body is not the next request


def test_a_chunked_body_is_refused_without_waiting_for_it(server: tuple[str, int]) -> None:
    status, headers, problem = _exchange(
        server,
        "POST /seals/verify HTTP/1.1\nHost: anbao\nContent-Type: application/json\n"
        "Transfer-Encoding: chunked\n",
    )
    assert status == 411
    assert problem["status"] == 411
    assert headers["connection"] == "close"


def test_a_body_that_does_not_arrive_times_out(server: tuple[str, int]) -> None:
    status, headers, problem = _exchange(
        server,
        "POST /seals/verify HTTP/1.1\nHost: anbao\nContent-Type: application/json\n"
        "Content-Length: 100\n",
        b'{"signature": ',
    )
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert problem["type"] == "urn:anbao:problem:request_timeout"
    assert headers["connection"] == "close"
