"""Shared builders for the audit unit tests."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from audit.errors import AuditStoreUnavailable
from audit.model import AuditEvent, Outcome, UserInfo
from audit.ports import RawDocument, WriteResult
from audit.recording.spool import Spool, SpoolConfig
from audit.stores.sqlite import SqliteAuditStore

T0 = dt.datetime(2026, 11, 26, 8, 0, 0, tzinfo=dt.UTC)
_ids = itertools.count()


def make_event(n: int | None = None, *, stream: str = "main", **over: object) -> AuditEvent:
    n = next(_ids) if n is None else n
    fields: dict[str, object] = {
        "id": f"evt-{n:08d}",
        "timestamp": T0 + dt.timedelta(milliseconds=n),
        "action": "seal.use",
        "outcome": Outcome.SUCCESS,
        "category": ("iam",),
        "user": UserInfo("u-1", "alice", ("auditor",)),
        "stream": stream,
    }
    fields.update(over)
    return AuditEvent(**fields)  # type: ignore[arg-type]


@pytest.fixture
def spool_factory(tmp_path: Path) -> Iterator[Callable[..., Spool]]:
    opened: list[Spool] = []

    def make(**over: object) -> Spool:
        config = SpoolConfig(path=tmp_path / "spool.sqlite3", **over)  # type: ignore[arg-type]
        spool = Spool(config, sleep=lambda _s: None)
        opened.append(spool)
        return spool

    yield make
    for spool in opened:
        spool.close()


class FlakyStore(SqliteAuditStore):
    """The embedded store behind a switch, and able to refuse chosen ids for good."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.up = True
        self.refuse: set[str] = set()
        self.calls = 0

    def write_documents(self, documents: Sequence[RawDocument]) -> WriteResult:
        self.calls += 1
        if not self.up:
            raise AuditStoreUnavailable("switched off")
        keep = [d for d in documents if d.event_id not in self.refuse]
        result = super().write_documents(keep)
        bad = tuple((d.event_id, "mapping conflict") for d in documents if d not in keep)
        return WriteResult(result.created, result.existing, bad)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FlakyStore]:
    s = FlakyStore(tmp_path / "store.db")
    yield s
    s.close()
