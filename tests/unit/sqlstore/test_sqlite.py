"""Opening SQLite files of the audit package from several processes at once (workers at start-up)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from audit.recording.spool import Spool, SpoolConfig
from sqlstore.sqlite import use_wal
from tests.unit.clocks import SteppedClock
from tests.unit.open_race import open_at_once


def open_spool(path: str) -> Spool:
    return Spool(SpoolConfig(path=Path(path)))


@pytest.mark.parametrize(
    "target",
    [
        "tests.unit.sqlstore.test_sqlite:open_spool",
        "audit.stores.sqlite:SqliteAuditStore",
        "audit.integrity.sqlite:SqliteIntegrityLog",
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
