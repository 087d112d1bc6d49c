"""A clustered node's wiring: the shared stores on the cluster database, one engine per process,
and no console session key made per node. One machine (no database_url) is unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from anbao.settings import Settings, SettingsError
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.siem_alerts import build_responses
from siem.alerts.testing import MemoryAlertStore
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


def test_a_clustered_console_needs_the_shared_session_key_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(clustered_env(tmp_path))
    assert info.value.name == "console.session_key_file"
    assert not (tmp_path / "console-session.key").exists()
    (tmp_path / "console-session.key").write_text("11" * 16)
    assert Settings.load(clustered_env(tmp_path)).cluster.clustered
    off = clustered_env(tmp_path) | {"ANBAO_CONSOLE_ENABLED": "false"}
    (tmp_path / "console-session.key").unlink()
    assert Settings.load(off).cluster.clustered  # no console, no key needed


def _now() -> dt.datetime:
    return dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def test_response_actions_are_in_the_cluster_database_when_clustered(tmp_path: Path) -> None:
    (tmp_path / "console-session.key").write_text("11" * 16)
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
