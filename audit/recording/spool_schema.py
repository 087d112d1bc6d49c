"""The spool's SQLite schema, and the in-place upgrade of spools written by earlier versions."""

from __future__ import annotations

import sqlite3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    doc BLOB NOT NULL,
    events INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS streams (stream TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('pending_bytes', 0), ('pending_events', 0);
CREATE TABLE IF NOT EXISTS external_ids (
    event_id TEXT PRIMARY KEY, stream TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY, event_id TEXT, stream TEXT, seq INTEGER, ts TEXT, doc BLOB,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('id_salt', randomblob(16));
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: Spools of earlier versions: rebuilt on open with the ``events`` column and without
#: AUTOINCREMENT. Row ids only order the spool (a new row's id is above every live row's, which
#: is all the order needs), and AUTOINCREMENT's extra page write was a third of each commit.
_UPGRADE = """
CREATE TABLE spool_upgraded (
    id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    ts TEXT NOT NULL, doc BLOB NOT NULL, events INTEGER NOT NULL DEFAULT 1
);
INSERT INTO spool_upgraded(id, event_id, stream, seq, ts, doc, events)
    SELECT id, event_id, stream, seq, ts, doc, {events} FROM spool;
DROP TABLE spool;
ALTER TABLE spool_upgraded RENAME TO spool;
"""


def create_or_upgrade(db: sqlite3.Connection) -> None:
    """Create the tables a new spool needs; rebuild an older spool's table in place."""
    db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
    db.execute("BEGIN IMMEDIATE")
    try:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name='spool'").fetchone()[0]
        columns = {row[1] for row in db.execute("PRAGMA table_info(spool)")}
        if "events" not in columns or "AUTOINCREMENT" in sql.upper():
            events = "events" if "events" in columns else "1"
            for statement in _UPGRADE.format(events=events).split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
