"""Real servers for the integration tests, started once per session by the deploy/local scripts.

A server that was already running is reused and left running; one this session started is
stopped at the end. Everything under tests/integration/ is marked ``integration``. With
``CI=true`` nothing is skipped: a server that fails to start fails the run.
"""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.paths import ROOT

SCRIPTS = ROOT / "deploy" / "local"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@dataclasses.dataclass(frozen=True)
class Server:
    name: str
    url: str
    env: dict[str, str]


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / f"{name}.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def _env(name: str) -> dict[str, str]:
    out = _script(name, "env")
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


_URL_KEYS = {"keycloak": "KEYCLOAK_URL", "postgres": "POSTGRES_URL"}


class _Servers:
    """Starts the named servers concurrently (two JVMs boot faster side by side than in turn)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.ready: dict[str, Server] = {}

    def ensure(self, *names: str) -> None:
        pending = [n for n in names if n not in self.ready]
        was_up = {n: _script(n, "status").returncode == 0 for n in pending}
        procs = {
            n: subprocess.Popen(
                [str(SCRIPTS / f"{n}.sh"), "start"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for n in pending
        }
        for name, proc in procs.items():
            output, _ = proc.communicate(timeout=900)
            if proc.returncode != 0:
                pytest.fail(f"{name} did not start:\n{output}", pytrace=False)
            if not was_up[name]:
                self.started.append(name)
            env = _env(name)
            url_key = _URL_KEYS.get(name, "ELASTICSEARCH_URL")
            self.ready[name] = Server(name, env[url_key], env)

    def stop_started(self) -> None:
        for name in reversed(self.started):
            _script(name, "stop")


@pytest.fixture(scope="session")
def servers() -> Iterator[_Servers]:
    registry = _Servers()
    registry.ensure("keycloak", "elasticsearch")
    yield registry
    registry.stop_started()


@pytest.fixture(scope="session")
def keycloak(servers: _Servers) -> Server:
    return servers.ready["keycloak"]


@pytest.fixture(scope="session")
def elasticsearch(servers: _Servers) -> Server:
    return servers.ready["elasticsearch"]


@pytest.fixture(scope="session")
def postgres(servers: _Servers) -> Server:
    """PostgreSQL (deploy/local/postgres.sh); ``url`` is a superuser DSN on loopback."""
    servers.ensure("postgres")
    return servers.ready["postgres"]


@pytest.fixture(scope="module")
def database(postgres: Server) -> Iterator[str]:
    """A unique, empty PostgreSQL database for one module (dropped after it); yields its DSN."""
    name = f"anbao_seals_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    env = postgres.env
    yield (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{name}"
    )
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
