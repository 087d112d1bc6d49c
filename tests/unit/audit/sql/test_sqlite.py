"""Opening the platform's SQLite files through the one helper: from several processes at once
(workers at start-up), for every SQLite-backed store; read-only; in memory."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from audit.recording.spool import Spool, SpoolConfig
from audit.search.saved import SqliteSavedSearches
from audit.sql.sqlite import connect, use_wal
from iam.events.sqlite import SqliteCursorStore
from tests.unit.clocks import SteppedClock
from tests.unit.open_race import open_at_once


def open_spool(path: str) -> Spool:
    return Spool(SpoolConfig(path=Path(path)))


def open_saved_searches(path: str) -> object:
    return SqliteSavedSearches(path, clock=lambda: dt.datetime.now(dt.UTC))


def open_cursor_store(path: str) -> SqliteCursorStore:
    return SqliteCursorStore(path, connect)  # iam gets the helper from the composition root


@pytest.mark.parametrize(
    "target",
    [
        "tests.unit.audit.sql.test_sqlite:open_spool",
        "audit.stores.sqlite:SqliteAuditStore",
        "audit.integrity.sqlite:SqliteIntegrityLog",
        "tests.unit.audit.sql.test_sqlite:open_saved_searches",
        "tests.unit.audit.sql.test_sqlite:open_cursor_store",
        "siem.alerts.sqlite:SqliteAlertStore",
        "siem.responses.sqlite:SqliteActionStore",
        "audit.sql.sqlite:connect",
    ],
)
def test_new_file_opened_by_several_processes_at_once(target: str, tmp_path: Path) -> None:
    assert open_at_once(target, tmp_path) == []


def _locked(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_waits_for_a_lock_released_in_time(tmp_path: Path) -> None:
    holder = _locked(tmp_path / "db")
    db = sqlite3.connect(tmp_path / "db", isolation_level=None, timeout=0)
    clock = SteppedClock()

    def pause(seconds: float) -> None:  # the other handle lets go during the third pause
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:
            holder.commit()

    use_wal(db, timeout=5.0, pause=0.01, monotonic=clock, sleep=pause)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert clock.sleeps == [0.01] * 3


def test_still_locked_at_the_deadline_is_raised(tmp_path: Path) -> None:
    holder = _locked(tmp_path / "db")
    db = sqlite3.connect(tmp_path / "db", isolation_level=None, timeout=0)
    clock = SteppedClock()
    with pytest.raises(sqlite3.OperationalError) as info:
        use_wal(db, timeout=0.3, pause=0.01, monotonic=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(0.3)  # retried until the deadline, not past it
    assert len(clock.sleeps) == pytest.approx(30, abs=1)
    assert info.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    holder.rollback()


def test_other_errors_are_raised_at_once(tmp_path: Path) -> None:
    (tmp_path / "db").write_bytes(b"not a database, " * 64)
    db = sqlite3.connect(tmp_path / "db", isolation_level=None, timeout=0)
    clock = SteppedClock()
    with pytest.raises(sqlite3.DatabaseError):
        use_wal(db, timeout=5.0, monotonic=clock, sleep=clock.sleep)
    assert clock.sleeps == []  # no retry


def test_a_file_gets_its_folder_wal_and_busy_timeout(tmp_path: Path) -> None:
    db = connect(tmp_path / "new" / "x.sqlite3", timeout=7.0, synchronous="FULL")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 7000
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.in_transaction is False
    db.execute("CREATE TABLE t (x)")
    assert db.in_transaction is False  # autocommit: transactions are explicit
    db.close()


def test_read_only_changes_nothing(tmp_path: Path) -> None:
    connect(tmp_path / "x.sqlite3").execute("CREATE TABLE t (x)")
    reader = connect(tmp_path / "x.sqlite3", read_only=True)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError):
        connect(tmp_path / "absent.sqlite3", read_only=True).execute("SELECT 1")
    assert not (tmp_path / "absent.sqlite3").exists()


def test_memory_and_implicit_transactions() -> None:
    db = connect(":memory:", autocommit=False)
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    assert db.in_transaction  # Python's implicit transaction, committed by ``with db``
