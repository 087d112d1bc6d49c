"""Suite-wide rules: unit tests get no network (sockets to anything but AF_UNIX are refused);
every test runs in a data directory and a working directory of its own; property tests have no
time limit per example (a 2-CPU CI machine that also runs Elasticsearch and Keycloak pauses now
and then, and a pause is not a failure of the code under test)."""

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


#: What decides the data directory when a test's settings name none (anbao.settings).
_DATA_DIR_VARIABLES = ("ANBAO_DATA_DIR", "STATE_DIRECTORY", "XDG_STATE_HOME")


@pytest.fixture(autouse=True, scope="session")
def _suite_working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """State defaults to the user's data directory (``~/.local/state/anbao``, ``make run``'s:
    records left there would be shipped into the platform's own audit trail at its next
    start); what a test or a module-wide app does not name lands in a directory of the run's
    instead. The working directory is the run's too, for relative paths a test names."""
    previous, saved = Path.cwd(), {k: os.environ.get(k) for k in _DATA_DIR_VARIABLES}
    root = tmp_path_factory.mktemp("suite-cwd")
    os.chdir(root)
    for key in _DATA_DIR_VARIABLES:
        os.environ.pop(key, None)
    os.environ["XDG_STATE_HOME"] = str(root / "state")
    yield
    os.chdir(previous)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _own_working_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And each test a data directory and a working directory of its own, so tests do not
    share state either (subprocesses inherit both)."""
    own = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(own)
    monkeypatch.setenv("XDG_STATE_HOME", str(own / "state"))
