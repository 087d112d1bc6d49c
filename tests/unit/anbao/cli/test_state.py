"""State paths come from the settings, not from the working directory; commands that read the
platform's state refuse a store that does not exist, naming it, and create nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from anbao.cli import main
from anbao.settings import Settings, default_data_dir
from audit.integrity.sqlite import SqliteIntegrityLog

STATE = {
    "audit.sqlite_path": "audit.sqlite3",
    "audit.spool_path": "audit-spool.sqlite3",
    "audit_integrity.log_path": "audit-integrity.sqlite3",
    "audit_integrity.signing_key_file": "audit-sth-key.pem",
    "audit_integrity.field_keyring_file": "audit-field-keys.json",
    "siem.alert_sqlite_path": "siem-alerts.sqlite3",
}


def value(settings: Settings, dotted: str) -> str:
    section, name = dotted.split(".")
    found = getattr(getattr(settings, section), name)
    return found if isinstance(found, str) else found.reveal()


def test_every_state_path_is_absolute_under_the_data_directory(tmp_path: Path) -> None:
    settings = Settings.load({"ANBAO_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == str(tmp_path)
    for dotted, name in STATE.items():
        assert value(settings, dotted) == str(tmp_path / name)
    assert settings.compliance.database_url == f"sqlite:///{tmp_path / 'compliance.sqlite3'}"
    assert settings.seals.database_url.reveal() == f"sqlite:///{tmp_path / 'seals.sqlite3'}"


def test_relative_settings_are_under_the_data_directory_absolute_ones_stay(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "ANBAO_DATA_DIR": str(tmp_path),
            "ANBAO_AUDIT_SQLITE_PATH": "events/audit.db",
            "ANBAO_AUDIT_SPOOL_PATH": "/srv/spool.db",
            "ANBAO_COMPLIANCE_DATABASE_URL": "sqlite:///runs.db",
            "ANBAO_SEALS_DATABASE_URL": "postgresql://anbao:pw@db/anbao",
        }
    )
    assert settings.audit.sqlite_path == str(tmp_path / "events" / "audit.db")
    assert settings.audit.spool_path == "/srv/spool.db"
    assert settings.compliance.database_url == f"sqlite:///{tmp_path / 'runs.db'}"
    assert settings.seals.database_url.reveal() == "postgresql://anbao:pw@db/anbao"


def test_a_relative_data_directory_is_made_absolute_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.load({"ANBAO_DATA_DIR": "state"})
    assert settings.audit.sqlite_path == str(tmp_path / "state" / "audit.sqlite3")


def test_the_default_data_directory_does_not_follow_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    for cwd in ("a", "b"):
        (tmp_path / cwd).mkdir()
        monkeypatch.chdir(tmp_path / cwd)
        assert Settings.load({}).data_dir == str(tmp_path / "xdg" / "anbao")
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/anbao")  # systemd's StateDirectory=anbao
    assert default_data_dir() == Path("/var/lib/anbao")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", "relative")  # not absolute: ignored (XDG)
    assert default_data_dir() == Path.home() / ".local" / "state" / "anbao"


def invoke(*args: str, data_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"ANBAO_DATA_DIR": str(data_dir)})
    return result.exit_code, result.output


#: Operator commands that open the platform's files (acting commands go through the API).
READERS = [
    ("audit", "verify"),
    ("audit", "heads"),
    ("audit", "sign-heads"),
    ("seal", "db", "current"),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_command_reading_a_store_that_does_not_exist_refuses(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, output = invoke(*args, data_dir=data_dir)
    assert code == 2, output
    assert f"no store at {data_dir}{os.sep}" in output
    assert "ANBAO_DATA_DIR" in output
    assert not data_dir.exists()  # nothing created, not even the directory
    assert list(elsewhere.iterdir()) == []


def test_commands_find_the_stores_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    SqliteIntegrityLog(str(data_dir / "audit-integrity.sqlite3")).close()
    outputs = []
    for cwd in ("one", "two"):
        (tmp_path / cwd).mkdir()
        monkeypatch.chdir(tmp_path / cwd)
        code, output = invoke("audit", "heads", data_dir=data_dir)
        assert code == 0, output
        outputs.append(output)
        assert list((tmp_path / cwd).iterdir()) == []
    assert outputs[0] == outputs[1]
