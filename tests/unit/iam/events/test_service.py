"""Event mapping to ECS and the puller's cursor: no gaps, no duplicates, across restarts."""

from __future__ import annotations

import json

import pytest

from audit.sql.sqlite import connect
from iam.events.model import (
    ADMIN_STREAM,
    LOGIN_STREAM,
    Cursor,
    admin_event_to_ecs,
    login_event_to_ecs,
)
from iam.events.service import EventPuller, SplitJournal
from iam.events.sqlite import SqliteCursorStore
from iam.realm.errors import EventCursorCorrupt

LOGIN = {
    "id": "e1",
    "time": 1795705618746,
    "type": "LOGIN",
    "realmId": "r-1",
    "clientId": "portal",
    "userId": "u-1",
    "sessionId": "s-1",
    "ipAddress": "10.1.2.3",
    "details": {"username": "zhang.san", "auth_method": "openid-connect", "code_id": "c"},
}
FAILED = {
    "id": "e2",
    "time": 1795705618800,
    "type": "LOGIN_ERROR",
    "realmId": "r-1",
    "clientId": "portal",
    "ipAddress": "10.1.2.3",
    "error": "invalid_user_credentials",
    "details": {"username": "zhang.san"},
}
ADMIN = {
    "id": "a1",
    "time": 1795705619985,
    "realmId": "r-1",
    "authDetails": {
        "realmId": "m",
        "clientId": "admin-cli",
        "userId": "admin-1",
        "ipAddress": "127.0.0.1",
    },
    "operationType": "CREATE",
    "resourceType": "USER",
    "resourcePath": "users/u-9",
    "representation": json.dumps(
        {
            "username": "li.si",
            "credentials": [{"type": "password", "value": "Secret-1!"}],
            "clientSecret": "x",
        }
    ),
}


def test_login_success_maps_to_ecs_authentication_start():
    doc = login_event_to_ecs(LOGIN, "anbao")
    assert doc["@timestamp"] == "2026-11-26T15:06:58.746Z"
    assert doc["event"]["category"] == ["authentication"]
    assert doc["event"]["type"] == ["start"]
    assert (doc["event"]["action"], doc["event"]["outcome"]) == ("login", "success")
    assert doc["user"] == {"id": "u-1", "name": "zhang.san"}
    assert doc["source"] == {"ip": "10.1.2.3"}
    assert doc["keycloak"]["realm"] == "anbao"
    assert doc["keycloak"]["client_id"] == "portal"
    assert doc["keycloak"]["type"] == "LOGIN"
    assert doc["event"]["id"] == "e1"


def test_login_error_is_a_failure_with_the_reason():
    doc = login_event_to_ecs(FAILED, "anbao")
    assert (doc["event"]["action"], doc["event"]["outcome"]) == ("login", "failure")
    assert doc["event"]["reason"] == "invalid_user_credentials"
    assert doc["error"] == {"code": "invalid_user_credentials"}
    assert "id" not in doc["user"]


def test_account_changes_are_iam_events():
    doc = login_event_to_ecs({**LOGIN, "type": "UPDATE_PASSWORD"}, "anbao")
    assert doc["event"]["category"] == ["iam"]
    assert doc["event"]["action"] == "update-password"


def test_admin_event_maps_to_iam_with_target_and_redacted_representation():
    doc = admin_event_to_ecs(ADMIN, "anbao")
    assert doc["event"]["category"] == ["iam"]
    assert doc["event"]["type"] == ["admin", "creation", "user"]
    assert doc["event"]["action"] == "user-create"
    assert doc["user"] == {"id": "admin-1", "target": {"id": "u-9"}}
    rep = doc["keycloak"]["representation"]
    assert rep["username"] == "li.si"
    assert rep["credentials"] == "[redacted]"
    assert rep["clientSecret"] == "[redacted]"
    assert "Secret-1!" not in json.dumps(doc)


class FakeKeycloak:
    """Keycloak's event query semantics: dateFrom inclusive (ms), ascending, first/max paging."""

    def __init__(self):
        self.events = {LOGIN_STREAM: [], ADMIN_STREAM: []}
        self.calls = 0

    def add(self, stream, event_id, time_ms, **extra):
        self.events[stream].append({"id": event_id, "time": time_ms, "type": "LOGIN", **extra})

    def fetch(self, stream, date_from_ms, first, max_results):
        self.calls += 1
        rows = sorted(
            (e for e in self.events[stream] if e["time"] >= date_from_ms), key=lambda e: e["time"]
        )
        return rows[first : first + max_results]


class ListSink:
    def __init__(self):
        self.events = []
        self.fail = False

    def emit(self, events):
        if self.fail:
            raise RuntimeError("sink down")
        self.events.extend(events)

    def ids(self):
        return [e["event"]["id"] for e in self.events]


def puller(kc, store, sink, page_size=3):
    return EventPuller(
        source=kc,
        journal=SplitJournal(store, sink),
        realm="anbao",
        page_size=page_size,
        overlap_ms=1000,
    )


def test_no_duplicates_across_restarts_with_ties_and_paging(tmp_path):
    kc, sink = FakeKeycloak(), ListSink()
    for i in range(7):  # several share a millisecond and span pages of 3
        kc.add(LOGIN_STREAM, f"l{i}", 1000 + i // 3)
    kc.add(ADMIN_STREAM, "a0", 1000, operationType="CREATE", resourceType="ROLE")
    path = tmp_path / "cursor.sqlite3"
    assert puller(kc, SqliteCursorStore(path, connect), sink).pull_once() == 8
    assert (
        puller(kc, SqliteCursorStore(path, connect), sink).pull_once() == 0
    )  # restart: nothing again
    kc.add(LOGIN_STREAM, "l7", 1002)  # same millisecond as the newest already read
    kc.add(LOGIN_STREAM, "l8", 1500)
    assert puller(kc, SqliteCursorStore(path, connect), sink).pull_once() == 2
    assert sorted(sink.ids()) == sorted([f"l{i}" for i in range(9)] + ["a0"])


def test_an_event_committed_late_inside_the_overlap_is_not_lost(tmp_path):
    kc, sink = FakeKeycloak(), ListSink()
    kc.add(LOGIN_STREAM, "new", 5000)
    store = SqliteCursorStore(tmp_path / "c.sqlite3", connect)
    puller(kc, store, sink).pull_once()
    kc.add(LOGIN_STREAM, "late", 4500)  # older timestamp, visible only now
    puller(kc, store, sink).pull_once()
    assert sink.ids() == ["new", "late"]


def test_a_failing_sink_leaves_the_cursor_where_it_was(tmp_path):
    kc, sink = FakeKeycloak(), ListSink()
    kc.add(LOGIN_STREAM, "x", 10)
    store = SqliteCursorStore(tmp_path / "c.sqlite3", connect)
    sink.fail = True
    with pytest.raises(RuntimeError):
        puller(kc, store, sink).pull_once()
    assert store.load(LOGIN_STREAM) == Cursor()
    sink.fail = False
    assert puller(kc, store, sink).pull_once() == 1


def test_cursor_window_forgets_ids_older_than_the_overlap():
    cursor = Cursor().advance(
        [{"id": "a", "time": 100}, {"id": "b", "time": 5000}], overlap_ms=1000
    )
    assert cursor.time_ms == 5000
    assert dict(cursor.seen) == {"b": 5000}


def test_a_corrupt_cursor_is_refused_not_guessed(tmp_path):
    path = tmp_path / "c.sqlite3"
    store = SqliteCursorStore(path, connect)
    store.save(LOGIN_STREAM, Cursor(5, {"a": 5}))
    assert store.load(LOGIN_STREAM) == Cursor(5, {"a": 5})
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("UPDATE keycloak_event_cursor SET seen = 'not json'")
    with pytest.raises(EventCursorCorrupt):
        store.load(LOGIN_STREAM)


def test_run_pulls_on_a_schedule_until_stopped(tmp_path):
    import threading

    kc, stop = FakeKeycloak(), threading.Event()
    kc.add(LOGIN_STREAM, "x", 10)

    class StoppingSink(ListSink):
        def emit(self, events):
            super().emit(events)
            stop.set()

    sink = StoppingSink()
    puller(kc, SqliteCursorStore(tmp_path / "c.sqlite3", connect), sink).run(3600, stop)
    assert sink.ids() == ["x"]
    assert kc.calls == 2  # one pass over both streams, then the stop was seen
