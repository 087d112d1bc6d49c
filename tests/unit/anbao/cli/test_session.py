"""The CLI's session file: private, replaced whole, refreshed near expiry, once across commands.

The refresh itself is Keycloak's (tests/integration/anbao/cli/test_login.py); here the
``refresher`` is a function standing in for the token endpoint so the decisions around it —
when to refresh, what to keep, what a refusal does — are checked without a network.
"""

from __future__ import annotations

import dataclasses
import json
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuthError

from anbao.cli import session
from anbao.settings import Settings

ISSUER = "http://127.0.0.1:8080/realms/anbao"
NOW = 1_000_000.0


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config" / "anbao"
    monkeypatch.setenv("ANBAO_CONFIG_DIR", str(directory))
    return directory


@pytest.fixture
def settings() -> Settings:
    return Settings.load(
        {"ANBAO_KEYCLOAK_URL": "http://127.0.0.1:8080", "ANBAO_KEYCLOAK_REALM": "anbao"}
    )


def login(**changes: Any) -> session.Login:
    base = session.Login(
        issuer=ISSUER,
        client_id="anbao-cli",
        token_endpoint=ISSUER + "/protocol/openid-connect/token",
        revocation_endpoint=ISSUER + "/protocol/openid-connect/revoke",
        username="dev",
        access_token="access-1",
        refresh_token="refresh-1",
        expires_at=NOW + 300,
        refresh_expires_at=NOW + 1800,
    )
    return dataclasses.replace(base, **changes)


def never(_: session.Login) -> dict[str, Any]:
    raise AssertionError("no refresh expected")


def rotated(old: session.Login) -> dict[str, Any]:
    assert old.refresh_token == "refresh-1"
    return {
        "access_token": "access-2",
        "refresh_token": "refresh-2",
        "expires_in": 300,
        "refresh_expires_in": 1800,
    }


def test_the_file_is_private_and_replaced_whole(config_dir: Path) -> None:
    config_dir.mkdir(parents=True, mode=0o755)
    config_dir.chmod(0o755)  # a directory made earlier by something else, listable by all
    session.save(login())
    path = session.credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    session.save(login(access_token="access-2"))
    assert [p.name for p in config_dir.iterdir() if p.name != "credentials.lock"] == [
        "credentials.json"
    ]
    assert session.load() == login(access_token="access-2")


def test_a_file_of_another_shape_is_no_login(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    session.credentials_path().write_text('{"access_token": "x"}')
    assert session.load() is None
    session.credentials_path().write_text("not json")
    assert session.load() is None
    wrong = dataclasses.asdict(login()) | {"expires_at": "soon"}
    session.credentials_path().write_text(json.dumps(wrong))
    assert session.load() is None


def test_nobody_signed_in_gives_no_token(settings: Settings) -> None:
    assert session.access_token(settings, now=lambda: NOW, refresher=never) is None


def test_a_fresh_token_is_used_as_it_is(settings: Settings) -> None:
    session.save(login())
    assert session.access_token(settings, now=lambda: NOW, refresher=never) == "access-1"


def test_a_token_near_expiry_is_refreshed_and_the_rotated_tokens_kept(settings: Settings) -> None:
    session.save(login(expires_at=NOW + session.REFRESH_MARGIN_SECONDS - 1))
    assert session.access_token(settings, now=lambda: NOW, refresher=rotated) == "access-2"
    kept = session.load()
    assert kept is not None
    assert (kept.access_token, kept.refresh_token) == ("access-2", "refresh-2")
    assert (kept.expires_at, kept.refresh_expires_at) == (NOW + 300, NOW + 1800)
    assert stat.S_IMODE(session.credentials_path().stat().st_mode) == 0o600


def test_a_refused_refresh_ends_the_session_here_too(settings: Settings) -> None:
    session.save(login(expires_at=NOW - 1))

    def refused(_: session.Login) -> dict[str, Any]:
        raise OAuthError(error="invalid_grant", description="Session not active")

    with pytest.raises(session.SessionEnded, match="anbao login"):
        session.access_token(settings, now=lambda: NOW, refresher=refused)
    assert not session.credentials_path().exists()


def test_an_expired_refresh_token_is_not_even_tried(settings: Settings) -> None:
    session.save(login(expires_at=NOW - 10, refresh_expires_at=NOW - 1))
    with pytest.raises(session.SessionEnded, match="expired"):
        session.access_token(settings, now=lambda: NOW, refresher=never)
    assert not session.credentials_path().exists()


def test_tokens_of_another_realm_are_never_sent(settings: Settings) -> None:
    session.save(login(issuer="http://127.0.0.1:8080/realms/other"))
    with pytest.raises(session.SessionEnded, match="realms/other"):
        session.access_token(settings, now=lambda: NOW, refresher=never)


def test_two_commands_refresh_once(settings: Settings) -> None:
    """The realm allows a refresh token once: a second command waits and takes the new one."""
    session.save(login(expires_at=NOW - 1))
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(old: session.Login) -> dict[str, Any]:
        calls.append(old.refresh_token)
        started.set()
        release.wait(30)
        return rotated(old)

    answers: list[str | None] = []
    first = threading.Thread(
        target=lambda: answers.append(
            session.access_token(settings, now=lambda: NOW, refresher=slow)
        )
    )
    first.start()
    assert started.wait(30)
    second = threading.Thread(
        target=lambda: answers.append(
            session.access_token(settings, now=lambda: NOW, refresher=slow)
        )
    )
    second.start()
    time.sleep(0.2)  # let the second reach the lock (the verdict holds either way)
    release.set()
    first.join(30)
    second.join(30)
    assert answers == ["access-2", "access-2"]
    assert calls == ["refresh-1"]
