"""A clustered node's wiring: the shared stores on the cluster database, one engine per process,
and no console session key made per node. One machine (no database_url) is unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from anbao.console.sessions import SqliteSessionRows
from anbao.console.sessions_sql import SqlSessionRows
from anbao.settings import Settings, SettingsError
from anbao.wiring.audit_integrity import shared_saved_searches
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.console import session_store
from anbao.wiring.siem import scheduled_checkpoints
from anbao.wiring.siem_alerts import build_responses
from audit.search.saved_sql import SqlSavedSearches
from siem.alerts.testing import MemoryAlertStore
from siem.engines.checkpoints_sql import SqlCheckpoints
from siem.engines.scheduled import JsonFileCheckpoints
from siem.responses.sql import SqlActionStore
from siem.responses.sqlite import SqliteActionStore
from siem.responses.testing import FakeIdentity

PG = "postgresql://anbao:secret@127.0.0.1:1/anbao"


def clustered_env(tmp_path: Path) -> dict[str, str]:
    return {
        "ANBAO_DATA_DIR": str(tmp_path),
        "ANBAO_CLUSTER_DATABASE_URL": PG,
        "ANBAO_CLUSTER_NODE_ID": "node-a",
        "ANBAO_AUDIT_STORE": "elasticsearch",
        "ANBAO_ELASTICSEARCH_PASSWORD": "x",
        "ANBAO_SIEM_ALERT_STORE": "elasticsearch",
        "ANBAO_SEALS_DATABASE_URL": PG,
        "ANBAO_COMPLIANCE_DATABASE_URL": PG,
    }


@pytest.mark.parametrize(
    ("missing", "setting"),
    [
        ("console-session.key", "console.session_key_file"),
        ("audit-field-keys.json", "audit_integrity.field_keyring_file"),
    ],
)
def test_a_clustered_node_never_makes_the_keys_of_shared_data(
    tmp_path: Path, missing: str, setting: str
) -> None:
    shared_keys(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(SettingsError) as info:
        Settings.load(clustered_env(tmp_path))
    assert info.value.name == setting
    assert not (tmp_path / missing).exists()
    shared_keys(tmp_path)
    assert Settings.load(clustered_env(tmp_path)).cluster.clustered


def test_without_the_console_no_session_key_is_needed(tmp_path: Path) -> None:
    shared_keys(tmp_path)
    (tmp_path / "console-session.key").unlink()
    off = clustered_env(tmp_path) | {"ANBAO_CONSOLE_ENABLED": "false"}
    assert Settings.load(off).cluster.clustered


def shared_keys(folder: Path) -> None:
    """The key files an operator gives every node (contents unread by these tests)."""
    (folder / "console-session.key").write_text("11" * 16)
    (folder / "audit-field-keys.json").write_text("{}")


def _now() -> dt.datetime:
    return dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def test_response_actions_are_in_the_cluster_database_when_clustered(tmp_path: Path) -> None:
    shared_keys(tmp_path)
    clustered = Settings.load(clustered_env(tmp_path))
    built = build_responses(
        clustered,
        MemoryAlertStore(),
        lambda: None,
        registry=None,
        identity=FakeIdentity(),
        clock=_now,  # type: ignore[arg-type]
    )
    assert isinstance(built.store, SqlActionStore)
    assert cluster_engine(clustered) is cluster_engine(clustered)  # one pool per process
    alone = Settings.load({"ANBAO_DATA_DIR": str(tmp_path)})
    built = build_responses(
        alone,
        MemoryAlertStore(),
        lambda: None,
        registry=None,
        identity=FakeIdentity(),
        clock=_now,  # type: ignore[arg-type]
    )
    assert isinstance(built.store, SqliteActionStore)
    built.store.close()


def test_scheduled_checkpoints_are_in_the_cluster_database_when_clustered(tmp_path: Path) -> None:
    shared_keys(tmp_path)
    assert isinstance(scheduled_checkpoints(Settings.load(clustered_env(tmp_path))), SqlCheckpoints)
    alone = scheduled_checkpoints(Settings.load({"ANBAO_DATA_DIR": str(tmp_path)}))
    assert isinstance(alone, JsonFileCheckpoints)


def test_saved_searches_and_console_sessions_are_shared_when_clustered(tmp_path: Path) -> None:
    shared_keys(tmp_path)
    clustered = Settings.load(clustered_env(tmp_path))
    assert isinstance(shared_saved_searches(clustered, _now), SqlSavedSearches)
    assert isinstance(session_store(clustered)._rows, SqlSessionRows)
    alone = Settings.load({"ANBAO_DATA_DIR": str(tmp_path / "alone")})
    assert shared_saved_searches(alone, _now) is None  # the SQLite file, as before
    assert isinstance(session_store(alone)._rows, SqliteSessionRows)
