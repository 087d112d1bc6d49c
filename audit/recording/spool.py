"""The local durable spool: every audit event is written here first, then shipped in bulk.

One SQLite database in WAL mode, shared by every worker process of the service. An append is one
``BEGIN IMMEDIATE`` transaction, so appends from several processes are serialised by SQLite's
write lock: each event gets the next per-stream sequence number (no gaps, no duplicates) in the
same transaction that stores it. A caller is acknowledged only after that transaction commits
with the configured fsync policy (MLPS L3-CES1-14: records protected against loss):

* ``always``  — ``synchronous=FULL``, one transaction per event: fsync before each acknowledgement.
* ``batch``   — ``synchronous=FULL``, group commit: events arriving together share one
  transaction and one fsync, each acknowledged after it (same guarantee, more throughput).
* ``interval``— ``synchronous=NORMAL``: a commit survives ``kill -9`` of the service (the WAL is
  in the page cache) and is fsynced by a checkpoint every ``interval`` seconds; a power loss may
  lose the last interval.

Capacity is counted in bytes of unshipped documents (kept in the database, so all processes agree).

Events are stored as their canonical document, one row each. The API middleware's per-request
:class:`audit.recording.request_record.RequestRecord` is stored in its compact form (a flat JSON
array), the consecutive ones of an append in one row (column ``events`` says how many; ``seq`` is
the first one's), and expanded into canonical documents, with ids derived from the spool's salt,
when the shipper reads them (:meth:`Spool.peek`): same guarantees, a fraction of the request-path
cost. Readers of the spool only ever see canonical documents, one per event; a row is never split.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from audit.errors import AuditEventInvalid, AuditSpoolError, AuditSpoolFull
from audit.model import AuditEvent, format_timestamp, node_stream
from audit.recording import request_record, spool_schema
from audit.recording.request_record import RequestRecord
from audit.recording.spool_model import (
    Backpressure,
    FsyncPolicy,
    SpoolConfig,
    SpooledRecord,
    SpoolStats,
)
from audit.sql.sqlite import connect

__all__ = [
    "Backpressure",
    "FsyncPolicy",
    "Spool",
    "SpoolConfig",
    "SpoolStats",
    "SpooledRecord",
]

#: How many externally-identified event ids the spool remembers for de-duplication.
_EXTERNAL_WINDOW = 200_000
#: Most compact records in one spool row (the shipper reads rows whole).
_MAX_RUN = 1024
#: How long opening the spool waits for another handle's lock.
_OPEN_WAIT = 30.0


def leftover_request_journal(path: Path) -> Path | None:
    """The request-journal folder an earlier release left beside the spool at ``path``, if it
    holds files.

    Releases before issue 18 wrote the middleware's records to ``<spool>.requests/*.jnl`` and
    moved them into the spool later; those records were acknowledged, and this release does not
    read them. The composition root decides what to do (``anbao.wiring.audit``).
    """
    left = path.with_name(path.name + ".requests")
    return left if left.is_dir() and any(left.glob("*.jnl")) else None


class Spool:
    """The spool of one process; several processes may open the same file at once."""

    def __init__(self, config: SpoolConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        # Resolved once: the lock file is found from this path later, whatever the working
        # directory is by then.
        self.config = config = dataclasses.replace(config, path=config.path.resolve())
        self._sleep = sleep
        self._lock = threading.Lock()
        #: Whether this handle committed since its last checkpoint (see :meth:`checkpoint`).
        self._unsynced = False
        try:
            self._db = connect(config.path, timeout=_OPEN_WAIT)
            sync = "NORMAL" if config.fsync is FsyncPolicy.INTERVAL else "FULL"
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
            spool_schema.create_or_upgrade(self._db)
            self._salt: bytes = self._db.execute(
                "SELECT value FROM meta WHERE name='id_salt'"
            ).fetchone()[0]
        except (OSError, sqlite3.Error) as exc:
            raise AuditSpoolError("The audit spool cannot be opened.") from exc

    # -- producers -----------------------------------------------------------------------------

    def append_items(
        self, items: Sequence[AuditEvent | RequestRecord], *, wait: bool = True
    ) -> list[AuditEvent | int]:
        """Events and request records in one transaction (the recorder's group commit):
        a sequenced event for each event, a sequence number for each request record."""
        return self._append(items, dedupe=False, wait=wait)

    def append(
        self,
        events: Sequence[AuditEvent],
        *,
        dedupe: bool = False,
        wait: bool = True,
        cursor: tuple[str, str] | None = None,
    ) -> list[AuditEvent]:
        """Durably store events (fsync per policy) and return them with their sequence numbers.

        ``dedupe`` is for events whose ids come from outside (Keycloak's event ids) and may be
        delivered again after a crash: an id spooled before (within the last
        ``_EXTERNAL_WINDOW`` such ids) is not stored twice and keeps its first sequence number,
        so a redelivery leaves no gap or duplicate in the stream's sequence.

        ``cursor`` (name, value) is stored in the same transaction as the events: a producer
        reading another system's history (the Keycloak event puller) keeps its read position
        here, so after a crash it has either both the events and the new position or neither
        (no gap, no repeat). :meth:`cursor` reads it back.

        Raises :class:`AuditSpoolFull` per the backpressure policy (``wait=False``: at once, the
        caller applies the policy itself), :class:`AuditSpoolError` when the disk refuses; in both
        cases nothing of the batch was stored.
        """
        appended = self._append(events, dedupe=dedupe, wait=wait, cursor=cursor)
        return appended  # type: ignore[return-value]  # noqa: RET504 - events in, events out

    def cursor(self, name: str) -> str | None:
        """The value last stored with ``cursor=(name, value)`` by :meth:`append`, if any."""
        with self._lock:
            try:
                row = self._db.execute("SELECT value FROM cursors WHERE name=?", (name,)).fetchone()
            except sqlite3.Error as exc:
                raise AuditSpoolError("The audit spool cannot be read.") from exc
        return None if row is None else str(row[0])

    def _append(
        self,
        items: Sequence[AuditEvent | RequestRecord],
        *,
        dedupe: bool,
        wait: bool,
        cursor: tuple[str, str] | None = None,
    ) -> list[AuditEvent | int]:
        if not items and cursor is None:
            return []
        blocking = wait and self.config.backpressure is Backpressure.BLOCK
        deadline = time.monotonic() + (self.config.block_timeout if blocking else 0.0)
        while True:
            try:
                return self._append_once(items, dedupe, cursor)
            except AuditSpoolFull:
                if time.monotonic() >= deadline:
                    raise
                self._sleep(0.05)

    def _append_once(
        self,
        items: Sequence[AuditEvent | RequestRecord],
        dedupe: bool,
        cursor: tuple[str, str] | None = None,
    ) -> list[AuditEvent | int]:
        with self._transaction("The audit spool cannot be written.") as db:
            if cursor is not None:
                db.execute(
                    "INSERT INTO cursors VALUES (?,?) "
                    "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                    cursor,
                )
            known: dict[str, AuditEvent] = {}
            if dedupe:  # only events come with dedupe (record_external)
                known, events = self._known(db, items)  # type: ignore[arg-type]
                items = events
            out = self._insert(db, items) if items else []
            if dedupe:
                self._remember(db, out)  # type: ignore[arg-type]
                out = [*known.values(), *out]
        return out

    @contextlib.contextmanager
    def _transaction(self, failure: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction under this handle's lock: committed if the block
        ends, rolled back if it raises; SQLite's errors become :class:`AuditSpoolError`."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                    self._unsynced = True
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise AuditSpoolError(failure) from exc

    def _insert(
        self,
        db: sqlite3.Connection,
        items: Sequence[AuditEvent | RequestRecord],
        *,
        enforce_capacity: bool = True,
    ) -> list[AuditEvent | int]:
        pending = db.execute("SELECT value FROM counters WHERE name='pending_bytes'").fetchone()[0]
        next_seq: dict[str, int] = {}
        rows: list[tuple[str, str, int, str, bytes, int]] = []
        out: list[AuditEvent | int] = []
        size = 0
        run: list[bytes] = []  # payloads of consecutive request records of one stream

        def sequence(stream: str) -> int:
            seq = next_seq.get(stream)
            if seq is None:
                row = db.execute(
                    "SELECT next_seq FROM streams WHERE stream=?", (stream,)
                ).fetchone()
                seq = row[0] if row else 0
            return seq

        def close_run(stream: str) -> None:
            nonlocal size
            doc = request_record.group(run)
            first = next_seq[stream] - len(run)
            rows.append(("", stream, first, "", doc, len(run)))
            size += len(doc)
            run.clear()

        run_stream = ""
        node_id = self.config.node_id
        for item in items:
            stream = node_stream(item.stream, node_id)
            if run and (
                stream != run_stream or not isinstance(item, RequestRecord) or len(run) >= _MAX_RUN
            ):
                close_run(run_stream)
            seq = sequence(stream)
            next_seq[stream] = seq + 1
            if isinstance(item, RequestRecord):
                run.append(request_record.encode(item))
                run_stream = stream
                out.append(seq)
                continue
            sequenced = item.with_sequence(seq, stream if stream != item.stream else None)
            doc = sequenced.canonical_bytes()
            size += len(doc)
            rows.append((item.id, stream, seq, format_timestamp(item.timestamp), doc, 1))
            out.append(sequenced)
        if run:
            close_run(run_stream)
        if enforce_capacity and pending + size > self.config.capacity_bytes and pending > 0:
            raise AuditSpoolFull("The audit spool is full; the audit store is not keeping up.")
        db.executemany(
            "INSERT INTO spool(event_id, stream, seq, ts, doc, events) VALUES (?,?,?,?,?,?)", rows
        )
        db.executemany(
            "INSERT INTO streams VALUES (?,?) ON CONFLICT(stream) DO UPDATE SET next_seq=excluded.next_seq",
            list(next_seq.items()),
        )
        db.execute(
            "UPDATE counters SET value = value + CASE name WHEN 'pending_bytes' THEN ? ELSE ? END",
            (size, len(out)),
        )
        return out

    @staticmethod
    def _known(
        db: sqlite3.Connection, events: Sequence[AuditEvent]
    ) -> tuple[dict[str, AuditEvent], list[AuditEvent]]:
        known: dict[str, AuditEvent] = {}
        fresh: list[AuditEvent] = []
        for event in events:
            row = db.execute(
                "SELECT seq, stream FROM external_ids WHERE event_id=?", (event.id,)
            ).fetchone()
            if row is not None:
                known[event.id] = event.with_sequence(row[0], row[1])
            elif event.id not in {e.id for e in fresh}:
                fresh.append(event)
        return known, fresh

    @staticmethod
    def _remember(db: sqlite3.Connection, stored: Sequence[AuditEvent]) -> None:
        db.executemany(
            "INSERT INTO external_ids VALUES (?,?,?)",
            [(e.id, e.stream, e.sequence) for e in stored],
        )
        db.execute(
            "DELETE FROM external_ids WHERE rowid <= (SELECT max(rowid) FROM external_ids) - ?",
            (_EXTERNAL_WINDOW,),
        )

    def checkpoint(self) -> None:
        """Fsync the WAL (the ``interval`` policy calls this on a timer) if this handle wrote.

        A handle that only reads leaves the checkpoint to the writers: copying the shipper's WAL
        pages on a serving process's timer would spend its CPU on another process's writes.
        """
        with self._lock:
            if not self._unsynced:
                return
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                raise AuditSpoolError("The audit spool cannot be synced.") from exc
            self._unsynced = False

    # -- the shipper ---------------------------------------------------------------------------

    def peek(self, limit: int, max_bytes: int = 8 << 20) -> list[SpooledRecord]:
        """The oldest unshipped records, in spool order: about ``limit`` events (a row of
        grouped request records is never split) and ``max_bytes`` of spool rows.

        A row that cannot be read back is moved to the dead-letter table, never shipped or lost.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event_id, stream, seq, ts, doc, events FROM spool ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        out: list[SpooledRecord] = []
        unreadable: list[SpooledRecord] = []
        reasons: list[str] = []
        total = 0
        for rowid, event_id, stream, seq, stamp, doc, events in rows:
            total += len(doc)
            if out and (total > max_bytes or len(out) + events > limit):
                break
            if not request_record.is_group(doc):
                out.append(SpooledRecord(rowid, event_id, stream, seq, stamp, doc))
                continue
            try:
                expanded = request_record.expand_group(doc, self._salt, stream, seq, events)
            except AuditEventInvalid as exc:
                unreadable.append(SpooledRecord(rowid, "", stream, seq, stamp, doc, -1, events))
                reasons.append(f"unreadable request records: {exc}")
                continue
            for i, e in enumerate(expanded):
                stored = len(doc) if i == 0 else 0  # the row's bytes count once, on its first
                out.append(
                    SpooledRecord(
                        rowid, e.event_id, stream, seq + i, e.timestamp, e.document, stored,
                        parsed=e.parsed,
                    )
                )  # fmt: skip
        self.bury(unreadable, reasons)
        return out

    def ack(self, records: Sequence[SpooledRecord]) -> None:
        """Forget records the store has confirmed (after a successful bulk write)."""
        self._remove(records, dead_reasons=None)

    def bury(self, records: Sequence[SpooledRecord], reasons: Sequence[str]) -> None:
        """Move records the store refuses for good to the dead-letter table (kept, alarmed)."""
        self._remove(records, dead_reasons=reasons)

    def _remove(self, records: Sequence[SpooledRecord], dead_reasons: Sequence[str] | None) -> None:
        if not records:
            return
        ids = [(rowid,) for rowid in dict.fromkeys(r.rowid for r in records)]
        size = sum(r.size for r in records)
        with self._transaction("The audit spool cannot be updated.") as db:
            if dead_reasons is not None:
                # the record as read (a grouped request record: its expanded document)
                db.executemany(
                    "INSERT INTO dead(event_id, stream, seq, ts, doc, reason) VALUES (?,?,?,?,?,?)",
                    [
                        (r.event_id, r.stream, r.sequence, r.timestamp, r.document, reason)
                        for r, reason in zip(records, dead_reasons, strict=True)
                    ],
                )
            db.executemany("DELETE FROM spool WHERE id=?", ids)
            db.execute(
                "UPDATE counters SET value = max(0, value - CASE name "
                "WHEN 'pending_bytes' THEN ? ELSE ? END)",
                (size, sum(r.events for r in records)),
            )

    def stats(self) -> SpoolStats:
        with self._lock:
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
            dead = self._db.execute("SELECT count(*) FROM dead").fetchone()[0]
        return SpoolStats(
            counters["pending_events"],
            counters["pending_bytes"],
            self.config.capacity_bytes,
            dead,
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
