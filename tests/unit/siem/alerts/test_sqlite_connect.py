"""The siem package's SQLite files opened by several processes at once (workers at start-up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.open_race import open_at_once


@pytest.mark.parametrize(
    "target", ["siem.alerts.sqlite:SqliteAlertStore", "siem.responses.sqlite:SqliteActionStore"]
)
def test_new_file_opened_by_several_processes_at_once(target: str, tmp_path: Path) -> None:
    assert open_at_once(target, tmp_path) == []
