from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

from anbao.console.sessions import PendingLogin, Session, SessionStore

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


def test_a_session_ends_with_the_realms_lifetime_and_on_delete(tmp_path: Path) -> None:
    clock = Clock()
    store = SessionStore(tmp_path / "s.sqlite3", tmp_path / "k.key", clock)
    session_id = store.create(session())
    clock.now = 2_799.0
    assert store.get(session_id) is not None
    clock.now = 2_800.0
    assert store.get(session_id) is None
    clock.now = 1_000.0
    store.delete(session_id)
    assert store.get(session_id) is None


def test_a_pending_login_is_taken_once_and_expires(tmp_path: Path) -> None:
    clock = Clock()
    store = SessionStore(tmp_path / "s.sqlite3", tmp_path / "k.key", clock)
    login = PendingLogin(verifier="v", nonce="n", next_path="/console/audit", acr="2")
    store.begin_login("state-1", login)
    assert store.take_login("state-1") == login
    assert store.take_login("state-1") is None  # a replayed callback finds nothing
    store.begin_login("state-2", login)
    clock.now += 601
    assert store.take_login("state-2") is None


def test_a_session_sealed_under_another_key_is_no_session(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.sqlite3", tmp_path / "k.key", Clock())
    session_id = store.create(session())
    store.close()
    (tmp_path / "k.key").write_text("00" * 16)  # the key was replaced (rotated)
    other = SessionStore(tmp_path / "s.sqlite3", tmp_path / "k.key", Clock())
    assert other.get(session_id) is None  # the person signs in again; no error page
