"""The ``IntegrityLog`` contract, run against the embedded SQLite log and real PostgreSQL alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from audit.integrity.migrations import MIGRATIONS
from audit.integrity.model import IntegrityError, LeafRecord, SignedTreeHead
from audit.integrity.postgres import PostgresIntegrityLog
from audit.integrity.service import HeadPolicy, HeadSigner, IntegrityService
from audit.integrity.sqlite import SqliteIntegrityLog
from audit.integrity.tables import metadata
from audit.sql.engine import create_engine
from crypto import sm2
from tests.unit.audit.integrity.helpers import MemoryStore, make_events


@pytest.fixture(scope="module")
def pg_engine(database: str) -> Iterator[sa.Engine]:
    engine = create_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def log(request, tmp_path) -> Iterator[SqliteIntegrityLog | PostgresIntegrityLog]:
    if request.param == "sqlite":
        embedded = SqliteIntegrityLog(tmp_path / "integrity.sqlite3")
        yield embedded
        embedded.close()
        return
    engine = request.getfixturevalue("pg_engine")
    yield PostgresIntegrityLog(engine)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def leaf(stream: str, seq: int, tag: str = "") -> LeafRecord:
    return LeafRecord(stream, seq, f"ev-{stream}-{seq}{tag}", bytes([seq % 256]) * 32)


def head(stream: str, size: int, ts: int = 1) -> SignedTreeHead:
    return SignedTreeHead(stream, size, ts, b"r" * 32, "kid", b"sig")


def test_leaves_are_kept_in_order_and_read_back_alike(log):
    log.append_leaves([leaf("main.a", i) for i in range(5)] + [leaf("iam.a", 0)])
    assert (log.size("main.a"), log.size("iam.a"), log.size("none")) == (5, 1, 0)
    assert log.leaves("main.a", 1, 3) == [leaf("main.a", 1), leaf("main.a", 2)]
    assert log.leaf_rows("main.a", 3, 10) == [
        (3, "ev-main.a-3", b"\x03" * 32),
        (4, "ev-main.a-4", b"\x04" * 32),
    ]
    assert log.leaf_hashes("main.a", 0, 2) == [b"\x00" * 32, b"\x01" * 32]
    assert log.leaf("main.a", 4) == leaf("main.a", 4)
    assert log.leaf("main.a", 5) is None
    assert log.streams() == ["iam.a", "main.a"]


def test_an_identical_redelivery_is_a_no_op(log):
    log.append_leaves([leaf("main.a", i) for i in range(3)])
    log.append_leaves([leaf("main.a", i) for i in range(1, 4)])  # overlaps, then one new
    assert log.size("main.a") == 4
    assert len(log.leaves("main.a", 0, 10)) == 4


def test_a_logged_leaf_is_never_rewritten_and_the_batch_is_refused_whole(log):
    log.append_leaves([leaf("main.a", 0), leaf("main.a", 1)])
    with pytest.raises(IntegrityError, match=r"Position 1 of stream main\.a"):
        log.append_leaves([leaf("main.a", 2), leaf("main.a", 1, "-forged")])
    assert log.leaves("main.a", 0, 10) == [leaf("main.a", 0), leaf("main.a", 1)]
    assert log.size("main.a") == 2
    with pytest.raises(IntegrityError):  # one position twice in one batch, differently
        log.append_leaves([leaf("main.a", 5), leaf("main.a", 5, "-other")])


def test_size_is_the_gap_free_prefix(log):
    log.append_leaves([leaf("main.b", i) for i in (0, 1, 3, 4, 6)])
    assert log.size("main.b") == 2
    log.append_leaves([leaf("main.b", 2)])
    assert log.size("main.b") == 5
    log.append_leaves([leaf("main.b", 5)])
    assert log.size("main.b") == 7
    log.append_leaves([leaf("main.c", 1)])
    assert log.size("main.c") == 0


def test_heads_are_kept_once_and_listed_by_stream_then_size(log):
    log.add_head(head("main.b", 4))
    log.add_head(head("main.a", 8))
    log.add_head(head("main.a", 2))
    log.add_head(head("main.a", 2, ts=99))  # a second head at the same size is ignored
    assert [(h.stream, h.size, h.timestamp_ms) for h in log.heads()] == [
        ("main.a", 2, 1),
        ("main.a", 8, 1),
        ("main.b", 4, 1),
    ]
    assert log.heads("main.b") == [head("main.b", 4)]
    assert log.head("main.a", 8) == head("main.a", 8)
    assert log.head("main.a", 3) is None
    assert log.streams() == ["main.a", "main.b"]  # streams with heads only count too


def test_the_service_signs_and_verifies_over_the_log(log):
    service = IntegrityService(
        log, HeadSigner(sm2.PrivateKey.generate()), clock=time.time, policy=HeadPolicy(4, 1e9)
    )
    events = make_events(10, stream="main.a")
    store = MemoryStore()
    store.write_batch(events)
    heads = service.append(events)
    assert [h.size for h in heads] == [10]
    assert service.verify(store).ok
    store.docs[events[3].id]["event"]["reason"] = "edited"
    (report,) = service.verify(store).streams
    assert [(f.kind.value, f.sequence) for f in report.findings] == [("modified", 3)]


def test_the_migrated_schema_is_the_tables_module(pg_engine):
    PostgresIntegrityLog(pg_engine)
    with pg_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": MIGRATIONS.version_table})
        diff = [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]
    assert diff == []
    PostgresIntegrityLog(pg_engine, migrate=False)  # at the shipped head: accepted


def test_two_appenders_of_one_stream_keep_the_size_right(pg_engine):
    log = PostgresIntegrityLog(pg_engine)
    stream = "race.a"
    errors: list[BaseException] = []

    def append(parity: int) -> None:
        try:
            for start in range(parity * 10, 400, 20):
                log.append_leaves([leaf(stream, i) for i in range(start, start + 10)])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert log.size(stream) == 400
