"""``anbao serve`` as a real uvicorn process on a free loopback port, for tests from outside."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def state_env(state: Path) -> dict[str, str]:
    """Settings that keep every store and key of the server in ``state``."""
    return {
        "ANBAO_SERVER_ACCESS_LOG": "false",
        "ANBAO_AUDIT_SQLITE_PATH": str(state / "audit.sqlite3"),
        "ANBAO_AUDIT_SPOOL_PATH": str(state / "spool.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_LOG_PATH": str(state / "integrity.sqlite3"),
        "ANBAO_AUDIT_INTEGRITY_SIGNING_KEY_FILE": str(state / "sth.pem"),
        "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(state / "keys.json"),
    }


@contextlib.contextmanager
def serve(state: Path, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """Start the server with ``env`` over the environment; yield its base URL and its log."""
    port = free_port()
    log = state / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "anbao", "serve"],
            env={**os.environ, **state_env(state), **env, "ANBAO_SERVER_PORT": str(port)},
            cwd=state,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"anbao serve did not start:\n{log.read_text()}")
        yield base, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)
