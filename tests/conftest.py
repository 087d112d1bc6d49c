"""Suite-wide rules: unit tests get no network (sockets to anything but AF_UNIX are refused);
every test runs in a working directory of its own; property tests have no time limit per example
(a 2-CPU CI machine that also runs Elasticsearch and Keycloak pauses now and then, and a pause is
not a failure of the code under test)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "anbao", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("anbao")

ROOT = Path(__file__).resolve().parent.parent


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _block_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests must not reach a network; integration tests talk to the real servers."""
    if request.node.get_closest_marker("integration"):
        return
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise NetworkBlocked(f"unit tests may not connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True, scope="session")
def _suite_working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings default to paths under ``.anbao/`` of the working directory (spool, request
    journal, integrity log, keys): what a test or a module-wide app does not name must not land
    in the checkout's ``.anbao/``, which is ``make run``'s — its records would be shipped into
    the platform's own audit trail at the next start."""
    previous = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("suite-cwd"))
    yield
    os.chdir(previous)


@pytest.fixture(autouse=True)
def _own_working_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And each test a directory of its own, so tests do not share those defaults either."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
