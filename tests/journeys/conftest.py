"""Journeys run on the real stack: each test here is marked ``integration`` (so the suite-wide
network block lets it reach the servers) and uses the real servers the integration tests start
or reuse (tests/integration/conftest.py), imported rather than duplicated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import database, keycloak, postgres, servers

__all__ = ["database", "keycloak", "postgres", "servers"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
