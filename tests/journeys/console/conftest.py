"""The console journeys share one demo platform (tests/journeys/console/platform.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import Server
from tests.journeys.console.platform import ConsolePlatform, start


@pytest.fixture(scope="session")
def console(
    keycloak: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsolePlatform]:
    yield from start(keycloak, tmp_path_factory.mktemp("console"))
