"""The integrity log in PostgreSQL: one log shared by every node of a cluster.

Why one shared log while each node numbers its own streams: the streams are per node
(``<stream>.<node_id>``, :func:`audit.model.node_stream`), so two nodes never append to the same
stream and never compete for a sequence number; the ingest path takes no lock that spans nodes.
Keeping all of them in one database is what lets ``anbao audit verify`` on any node prove the
whole trail, every stream of every node, and lets any node serve proofs of any event; a node
that was down finds its streams where it left them and goes on appending.

Same semantics as the embedded log (:mod:`audit.integrity.sqlite`): leaves are only inserted; an
identical re-insert (a shipper's redelivery) is a no-op and a conflicting one raises
:class:`IntegrityError` with nothing stored; each stream's gap-free ``size`` advances in the
same transaction, under a row lock of the stream's size row, so two appenders of one stream
(two workers of a node) never compute it from each other's half-committed state.

A batch costs a fixed number of round trips whatever its length: the leaves go in as arrays
(``unnest``) in one ``INSERT … ON CONFLICT DO NOTHING RETURNING``; then three statements per
stream of the batch (lock and read the size, count the new run, store the size).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from audit.integrity.model import IntegrityError, LeafRecord, SignedTreeHead
from audit.integrity.ports import LeafRow

_INSERT_LEAVES = sa.text(
    "INSERT INTO audit_integrity_leaves (stream, seq, event_id, leaf_hash) "
    "SELECT * FROM unnest(CAST(:streams AS text[]), CAST(:seqs AS bigint[]), "
    "CAST(:ids AS text[]), CAST(:hashes AS bytea[])) "
    "ON CONFLICT (stream, seq) DO NOTHING RETURNING stream, seq"
)
_LOGGED = sa.text(
    "SELECT l.stream, l.seq, l.event_id, l.leaf_hash FROM audit_integrity_leaves l "
    "JOIN unnest(CAST(:streams AS text[]), CAST(:seqs AS bigint[])) AS w(stream, seq) "
    "ON l.stream = w.stream AND l.seq = w.seq"
)
_LOCK_SIZE = sa.text(
    "INSERT INTO audit_integrity_stream_sizes (stream, size) VALUES (:stream, 0) "
    "ON CONFLICT (stream) DO UPDATE SET size = audit_integrity_stream_sizes.size RETURNING size"
)
_RUN = sa.text(
    "SELECT count(*), max(seq) FROM audit_integrity_leaves WHERE stream = :stream AND seq >= :size"
)
#: The first missing position at or after ``size`` (leaf ``size`` is known to be present).
_FIRST_GAP = sa.text(
    "SELECT min(l.seq) + 1 FROM audit_integrity_leaves l WHERE l.stream = :stream "
    "AND l.seq >= :size AND NOT EXISTS (SELECT 1 FROM audit_integrity_leaves n "
    "WHERE n.stream = l.stream AND n.seq = l.seq + 1)"
)
_SET_SIZE = sa.text("UPDATE audit_integrity_stream_sizes SET size = :size WHERE stream = :stream")
_ROWS = sa.text(
    "SELECT seq, event_id, leaf_hash FROM audit_integrity_leaves "
    "WHERE stream = :stream AND seq >= :start AND seq < :stop ORDER BY seq"
)
_HASHES = sa.text(
    "SELECT leaf_hash FROM audit_integrity_leaves "
    "WHERE stream = :stream AND seq >= :start AND seq < :stop ORDER BY seq"
)
_HEAD_COLUMNS = "stream, size, ts_ms, root, key_id, signature"


class PostgresIntegrityLog:
    """:class:`audit.integrity.ports.IntegrityLog` on a PostgreSQL engine (psycopg 3).

    ``migrate`` runs the log's Alembic scripts when it opens (a concurrent first start-up by
    another node may win the race, so one failed attempt is retried); otherwise a database
    that is not at the shipped schema is refused.
    """

    def __init__(self, engine: sa.Engine, *, migrate: bool = True) -> None:
        # alembic's env imports the tables, not this module; imported here like policies.runs
        from audit.integrity.migrations import MIGRATIONS  # noqa: PLC0415

        self.engine = engine
        if migrate:
            try:
                MIGRATIONS.upgrade(engine)
            except IntegrityError:
                MIGRATIONS.upgrade(engine)
        else:
            MIGRATIONS.require_current(engine)

    def _query(self, statement: sa.TextClause, **params: Any) -> list[tuple[Any, ...]]:
        try:
            with self.engine.connect() as conn:
                return [tuple(row) for row in conn.execute(statement, params)]
        except sa.exc.SQLAlchemyError as exc:
            raise IntegrityError("The integrity log cannot be read.") from exc

    def append_leaves(self, leaves: Sequence[LeafRecord]) -> None:
        if not leaves:
            return
        params = {
            "streams": [r.stream for r in leaves],
            "seqs": [r.sequence for r in leaves],
            "ids": [r.event_id for r in leaves],
            "hashes": [bytes(r.leaf_hash) for r in leaves],
        }
        try:
            with self.engine.begin() as conn:
                inserted = {(s, q) for s, q in conn.execute(_INSERT_LEAVES, params)}
                if len(inserted) != len(leaves):
                    self._check_conflicts(conn, leaves, inserted)
                for stream in sorted({r.stream for r in leaves}):  # one lock order for all
                    self._advance(conn, stream)
        except sa.exc.SQLAlchemyError as exc:
            raise IntegrityError("The integrity log cannot be written.") from exc

    @staticmethod
    def _check_conflicts(
        conn: sa.Connection, leaves: Sequence[LeafRecord], inserted: set[tuple[str, int]]
    ) -> None:
        """A skipped insert must have been an identical redelivery, never a rewrite."""
        wanted = {
            (r.stream, r.sequence): (r.event_id, bytes(r.leaf_hash))
            for r in leaves
            if (r.stream, r.sequence) not in inserted
        }
        found = conn.execute(
            _LOGGED,
            {"streams": [k[0] for k in wanted], "seqs": [k[1] for k in wanted]},
        )
        logged = {(s, q): (e, bytes(h)) for s, q, e, h in found}
        duplicates: dict[tuple[str, int], tuple[str, bytes]] = {}
        for r in leaves:  # a batch that names one position twice must name it alike
            key, value = (r.stream, r.sequence), (r.event_id, bytes(r.leaf_hash))
            if duplicates.setdefault(key, value) != value:
                raise IntegrityError(
                    f"Position {r.sequence} of stream {r.stream} is already logged."
                )
        for (stream, seq), value in sorted(wanted.items()):
            if logged.get((stream, seq), value) != value:
                raise IntegrityError(f"Position {seq} of stream {stream} is already logged.")

    @staticmethod
    def _advance(conn: sa.Connection, stream: str) -> None:
        size = int(conn.execute(_LOCK_SIZE, {"stream": stream}).scalar_one())
        count, last = conn.execute(_RUN, {"stream": stream, "size": size}).one()
        if not count:
            return
        if last == size + count - 1:  # gap-free past the size: no search needed
            new = size + int(count)
        else:
            has_first = conn.execute(_ROWS, {"stream": stream, "start": size, "stop": size + 1})
            if has_first.first() is None:
                return
            new = int(conn.execute(_FIRST_GAP, {"stream": stream, "size": size}).scalar_one())
        conn.execute(_SET_SIZE, {"stream": stream, "size": new})

    def size(self, stream: str) -> int:
        rows = self._query(
            sa.text("SELECT size FROM audit_integrity_stream_sizes WHERE stream = :stream"),
            stream=stream,
        )
        return int(rows[0][0]) if rows else 0

    def leaves(self, stream: str, start: int, stop: int) -> list[LeafRecord]:
        return [
            LeafRecord(stream, seq, event_id, leaf_hash)
            for seq, event_id, leaf_hash in self.leaf_rows(stream, start, stop)
        ]

    def leaf_rows(self, stream: str, start: int, stop: int) -> list[LeafRow]:
        rows = self._query(_ROWS, stream=stream, start=start, stop=stop)
        return [(int(seq), event_id, bytes(digest)) for seq, event_id, digest in rows]

    def leaf_hashes(self, stream: str, start: int, stop: int) -> list[bytes]:
        return [
            bytes(row[0]) for row in self._query(_HASHES, stream=stream, start=start, stop=stop)
        ]

    def leaf(self, stream: str, sequence: int) -> LeafRecord | None:
        found = self.leaves(stream, sequence, sequence + 1)
        return found[0] if found else None

    def add_head(self, head: SignedTreeHead) -> None:
        statement = sa.text(
            f"INSERT INTO audit_integrity_heads ({_HEAD_COLUMNS}) "  # noqa: S608 - constant columns
            "VALUES (:stream, :size, :ts, :root, :key_id, :signature) "
            "ON CONFLICT (stream, size) DO NOTHING"
        )
        values = {
            "stream": head.stream,
            "size": head.size,
            "ts": head.timestamp_ms,
            "root": head.root,
            "key_id": head.key_id,
            "signature": head.signature,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(statement, values)
        except sa.exc.SQLAlchemyError as exc:
            raise IntegrityError("The integrity log cannot be written.") from exc

    def heads(self, stream: str | None = None) -> list[SignedTreeHead]:
        sql = f"SELECT {_HEAD_COLUMNS} FROM audit_integrity_heads"  # noqa: S608 - constant
        params: dict[str, Any] = {}
        if stream is not None:
            sql += " WHERE stream = :stream"
            params["stream"] = stream
        return list(self._heads(sa.text(sql + " ORDER BY stream, size"), params))

    def _heads(self, statement: sa.TextClause, params: dict[str, Any]) -> Iterator[SignedTreeHead]:
        for stream, size, ts, root, key_id, signature in self._query(statement, **params):
            yield SignedTreeHead(stream, int(size), int(ts), bytes(root), key_id, bytes(signature))

    def head(self, stream: str, size: int) -> SignedTreeHead | None:
        statement = sa.text(
            f"SELECT {_HEAD_COLUMNS} FROM audit_integrity_heads "  # noqa: S608 - constant
            "WHERE stream = :stream AND size = :size"
        )
        found = list(self._heads(statement, {"stream": stream, "size": size}))
        return found[0] if found else None

    def streams(self) -> list[str]:
        rows = self._query(
            sa.text(
                "SELECT stream FROM audit_integrity_stream_sizes "
                "UNION SELECT stream FROM audit_integrity_heads ORDER BY 1"
            )
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        """Nothing to release: the engine is the process's cluster engine, shared with other
        stores (:func:`anbao.wiring.cluster.cluster_engine`) and disposed of with the process."""
