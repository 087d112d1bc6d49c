"""The cluster database on the real PostgreSQL: the shared stores' migrations side by side in
one database, two nodes starting at once, and two nodes' wiring (from their settings) sharing
saved searches, console sessions, response actions and the scheduled detections' checkpoint."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from anbao.console import sessions_sql
from anbao.settings import Settings
from anbao.wiring.audit_integrity import shared_saved_searches
from anbao.wiring.cluster import cluster_engine
from anbao.wiring.console import session_store
from anbao.wiring.siem import scheduled_checkpoints
from anbao.wiring.siem_alerts import build_responses
from audit.search import saved_sql
from audit.search.saved import SavedSearch
from audit.sql.engine import Migrations, create_engine
from siem.alerts.errors import SelfApproval
from siem.alerts.service import AlertRecords, AlertService
from siem.alerts.testing import MemoryAlertStore
from siem.engines import checkpoints_sql
from siem.model import ResponseKind
from siem.responses import sql as actions_sql
from siem.responses.model import ActionState
from siem.responses.service import ResponseService
from siem.responses.testing import FakeIdentity, ListAudit
from tests.unit.anbao.console.test_sessions import session
from tests.unit.siem.support import detection

STORES: list[tuple[Migrations, sa.MetaData]] = [
    (saved_sql.MIGRATIONS, saved_sql.metadata),
    (actions_sql.MIGRATIONS, actions_sql.metadata),
    (sessions_sql.MIGRATIONS, sessions_sql.metadata),
    (checkpoints_sql.MIGRATIONS, checkpoints_sql.metadata),
]
NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


def test_the_stores_migrate_side_by_side_and_two_nodes_may_start_at_once(database: str) -> None:
    """Two processes (two nodes) migrate the same empty database at once: the advisory lock
    makes one wait for the other instead of both creating the tables."""
    start = (
        "import sys; from audit.sql.engine import create_engine;"
        "from audit.search.saved_sql import MIGRATIONS as a;"
        "from siem.responses.sql import MIGRATIONS as b;"
        "from anbao.console.sessions_sql import MIGRATIONS as c;"
        "from siem.engines.checkpoints_sql import MIGRATIONS as d;"
        "e = create_engine(sys.argv[1]); [m.upgrade(e) for m in (a, b, c, d)]"
    )
    nodes = [
        subprocess.Popen([sys.executable, "-c", start, database], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for proc in nodes:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    engine = create_engine(database)
    with engine.connect() as conn:
        for migrations, metadata in STORES:
            assert migrations.current(engine) == migrations.head()
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert [d for d in diff if _table_of(d) in metadata.tables] == []
    engine.dispose()


def _table_of(difference: Any) -> str:
    """The table an Alembic autogenerate difference is about (the others' tables are not)."""
    first = difference[0] if isinstance(difference, list) else difference
    kind, obj = first[0], first[1]
    if kind.endswith("_table"):
        return str(obj.name)
    if kind.endswith("_index"):
        return str(obj.table.name)
    return str(first[2])


def node(name: str, database: str, tmp_path: Path) -> Settings:
    """A clustered node's settings: its own data directory, the shared database and key."""
    data = tmp_path / name
    data.mkdir()
    return Settings.load(
        {
            "ANBAO_DATA_DIR": str(data),
            "ANBAO_CLUSTER_DATABASE_URL": database,
            "ANBAO_CLUSTER_NODE_ID": name,
            "ANBAO_AUDIT_STORE": "elasticsearch",
            "ANBAO_ELASTICSEARCH_PASSWORD": "unused",
            "ANBAO_SIEM_ALERT_STORE": "elasticsearch",
            "ANBAO_SEALS_DATABASE_URL": database,
            "ANBAO_COMPLIANCE_DATABASE_URL": database,
            "ANBAO_CONSOLE_SESSION_KEY_FILE": str(tmp_path / "shared-session.key"),
            "ANBAO_AUDIT_INTEGRITY_FIELD_KEYRING_FILE": str(tmp_path / "shared-field-keys.json"),
        }
    )


@pytest.fixture
def nodes(database: str, tmp_path: Path) -> Iterator[tuple[Settings, Settings]]:
    (tmp_path / "shared-session.key").write_text("22" * 16)
    (tmp_path / "shared-field-keys.json").write_text("{}")  # present; not read here
    a = node("node-a", database, tmp_path)
    yield a, node("node-b", database, tmp_path)
    cluster_engine(a).dispose()  # one engine per URL in a process: both nodes' here


def test_two_nodes_wired_from_settings_share_what_a_user_sees(
    nodes: tuple[Settings, Settings],
) -> None:
    # A search saved through node A is listed by node B.
    saved_a, saved_b = (shared_saved_searches(s, lambda: NOW) for s in nodes)
    assert saved_a is not None
    assert saved_b is not None
    made = saved_a.put(SavedSearch("s1", "alice", "logins", "action:login"))
    assert saved_b.list("alice") == [made]

    # A console session made on node A is valid on node B.
    sessions_a, sessions_b = (session_store(s, lambda: 1_000.0) for s in nodes)
    session_id = sessions_a.create(session())
    assert sessions_b.get(session_id) == session()

    # A response action requested on node A is approved on node B (and runs there, once).
    # The alert itself comes from a memory store: here only the actions are under test.
    alerts = AlertService(MemoryAlertStore(), clock=lambda: NOW, window=dt.timedelta(0))
    alert = alerts.ingest(detection())
    assert alert is not None
    service_a, service_b = (responses(s, alerts) for s in nodes)
    action = service_a.request(alert.id, ResponseKind.DISABLE_USER, "ana", actor_id="s-1")
    with pytest.raises(SelfApproval):
        service_b.approve(action.id, "ana", actor_id="s-1")
    assert service_b.approve(action.id, "bo", actor_id="s-2").state is ActionState.EXECUTED
    assert service_a.get(action.id).decided_by == "bo"

    # The scheduled detections' job moves from node A to node B: B resumes where A stopped.
    scheduled_a, scheduled_b = (scheduled_checkpoints(s) for s in nodes)
    assert scheduled_b.load("scheduled") is None
    scheduled_a.save("scheduled", {"end": "2026-12-07T08:00:00+00:00"})
    scheduled_a.save("scheduled", {"end": "2026-12-07T08:01:00+00:00"})
    assert scheduled_b.load("scheduled") == {"end": "2026-12-07T08:01:00+00:00"}


def responses(settings: Settings, alerts: AlertService) -> ResponseService:
    """The node's wired action store, in a service that audits to a list (not the trail)."""
    wired = build_responses(
        settings,
        AlertRecords(alerts.store, clock=lambda: NOW),
        lambda: None,  # type: ignore[arg-type, return-value]
        registry=None,
        identity=FakeIdentity(),
        clock=lambda: NOW,
    )
    return ResponseService(
        wired.store,
        identity=FakeIdentity({"alice": (True, 1)}),
        seals=None,
        audit=ListAudit(),
        clock=lambda: NOW,
        new_id=lambda: uuid.uuid4().hex,
        alerts=alerts.get,
    )
