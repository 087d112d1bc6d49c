"""The console journeys share one demo platform (tests/journeys/console/platform.py): its server
for the whole session, a browser per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import Server
from tests.journeys.console.platform import ConsolePlatform, Served, start


@pytest.fixture(scope="session")
def console_server(keycloak: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from start(keycloak, tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def console(console_server: Served) -> Iterator[ConsolePlatform]:
    with console_server.in_browser() as platform:
        yield platform
