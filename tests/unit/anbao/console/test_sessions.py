"""The console's session store on its SQLite file; the tests that take ``open_store`` also run
on the cluster database (tests/integration/anbao/console/test_sessions_postgres.py)."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from anbao.console.sessions import PendingLogin, Session, SessionKeyMissing, SessionStore

TOKEN = "eyJhbGciOiJFUzI1NiJ9.secret-access-token.sig"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def session(**changes: object) -> Session:
    base = Session(
        subject="s-1",
        username="demo-analyst",
        name="赵析",
        roles=("security-analyst",),
        acr="1",
        access_token=TOKEN,
        refresh_token="refresh-secret",
        id_token="id-secret",
        access_expires_at=1_300.0,
        expires_at=2_800.0,
        csrf="csrf-1",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_session_comes_back_by_its_id_only_and_its_tokens_are_sealed_at_rest(
    tmp_path: Path,
) -> None:
    store = SessionStore(tmp_path / "s.sqlite3", tmp_path / "k.key", Clock())
    session_id = store.create(session())
    assert store.get(session_id) == session()
    assert store.get(session_id + "x") is None
    assert store.get("") is None
    store.close()
    raw = (tmp_path / "s.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("s.sqlite3*")
    )
    assert b"secret-access-token" not in raw
    assert session_id.encode() not in raw  # the row is keyed by a hash of the cookie's id
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600


#: Opens a store on the test's one database (each call: another worker's or node's store).
Opener = Callable[[Clock, Path], SessionStore]


@pytest.fixture
def open_store(tmp_path: Path) -> Opener:
    return lambda clock, key_file: SessionStore(tmp_path / "s.sqlite3", key_file, clock)


def test_a_session_ends_with_the_realms_lifetime_and_on_delete(
    open_store: Opener, tmp_path: Path
) -> None:
    clock = Clock()
    store = open_store(clock, tmp_path / "k.key")
    session_id = store.create(session())
    clock.now = 2_799.0
    assert store.get(session_id) is not None
    clock.now = 2_800.0
    assert store.get(session_id) is None
    clock.now = 1_000.0
    store.delete(session_id)
    assert store.get(session_id) is None


def test_a_pending_login_is_taken_once_and_expires(open_store: Opener, tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(clock, tmp_path / "k.key")
    login = PendingLogin(verifier="v", nonce="n", next_path="/console/audit", acr="2")
    store.begin_login("state-1", login)
    assert store.take_login("state-1") == login
    assert store.take_login("state-1") is None  # a replayed callback finds nothing
    store.begin_login("state-2", login)
    clock.now += 601
    assert store.take_login("state-2") is None


def test_a_session_sealed_under_another_key_is_no_session(
    open_store: Opener, tmp_path: Path
) -> None:
    store = open_store(Clock(), tmp_path / "k.key")
    session_id = store.create(session())
    store.close()
    (tmp_path / "k.key").write_text("00" * 16)  # the key was replaced (rotated)
    other = open_store(Clock(), tmp_path / "k.key")
    assert other.get(session_id) is None  # the person signs in again; no error page


def test_a_session_made_by_one_worker_or_node_is_valid_on_another(
    open_store: Opener, tmp_path: Path
) -> None:
    """Same key file, same database: made on one, read, refreshed and ended on the other."""
    (tmp_path / "k.key").write_text("11" * 16)
    clock = Clock()
    node_a, node_b = open_store(clock, tmp_path / "k.key"), open_store(clock, tmp_path / "k.key")
    session_id = node_a.create(session())
    assert node_b.get(session_id) == session()
    node_b.save(session_id, session(access_token="refreshed", expires_at=3_600.0))
    clock.now = 3_000.0
    assert node_a.get(session_id) == session(access_token="refreshed", expires_at=3_600.0)
    login = PendingLogin(verifier="v", nonce="n", next_path="/console/")
    node_a.begin_login("state-x", login)
    assert node_b.take_login("state-x") == login  # the callback lands on the other node
    assert node_a.take_login("state-x") is None
    node_b.delete(session_id)
    assert node_a.get(session_id) is None


def test_a_store_that_may_not_make_its_key_refuses_to_work_without_one(tmp_path: Path) -> None:
    """A clustered node never makes its own key: sessions sealed under it would not open on
    the other nodes."""
    store = SessionStore(tmp_path / "s.sqlite3", tmp_path / "k.key", Clock(), create_key=False)
    with pytest.raises(SessionKeyMissing, match=r"console\.session_key_file"):
        store.create(session())
    assert not (tmp_path / "k.key").exists()
