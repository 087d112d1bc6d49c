"""The signed-in person's tokens at the command line (written by ``anbao login``).

Stored as JSON in ``$XDG_CONFIG_HOME/anbao/credentials.json`` (default ``~/.config/anbao``;
``ANBAO_CONFIG_DIR`` overrides the directory): the user's own config directory, not the
project's, so no token lands in a repository. The file is mode 0600 in a 0700 directory and is
replaced atomically (a new file renamed over the old), so a crash or a second command never
sees half a file.

:func:`access_token` is what every acting command uses: it refreshes the access token when it
is near expiry. The realm rotates refresh tokens and allows no reuse, so two commands must not
both spend the same one: the refresh happens under an exclusive lock, and the second command
re-reads the file and takes the first one's tokens. A refused refresh means the session ended
at Keycloak (logged out, idle, disabled): the file is removed and the person signs in again.
The issuer and client are kept with the tokens, so tokens of another realm are never sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from anbao.settings import Settings
from iam.tokens.keycloak import issuer_url

#: Refresh this long before the access token expires (clock skew, a slow call).
REFRESH_MARGIN_SECONDS = 30.0

Refresher = Callable[["Login"], dict[str, Any]]


class SessionEnded(click.ClickException):
    """No usable session: the person signs in again (exit 1)."""

    exit_code = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    """What ``anbao login`` keeps: the tokens and where they come from."""

    issuer: str
    client_id: str
    token_endpoint: str
    revocation_endpoint: str
    username: str
    access_token: str = dataclasses.field(repr=False)
    refresh_token: str = dataclasses.field(repr=False)
    #: epoch seconds; ``refresh_expires_at`` 0 means Keycloak gave no refresh lifetime
    expires_at: float
    refresh_expires_at: float = 0.0

    def with_tokens(self, tokens: dict[str, Any], now: float) -> Login:
        """The same login with a token response (RFC 6749 §5.1) applied at ``now``."""
        refresh_in = float(tokens.get("refresh_expires_in") or 0)
        return dataclasses.replace(
            self,
            access_token=str(tokens["access_token"]),
            refresh_token=str(tokens.get("refresh_token") or self.refresh_token),
            expires_at=now + float(tokens.get("expires_in") or 0),
            refresh_expires_at=now + refresh_in if refresh_in else 0.0,
        )

    def fresh(self, now: float) -> bool:
        return self.expires_at - now > REFRESH_MARGIN_SECONDS

    def refresh_expired(self, now: float) -> bool:
        return bool(self.refresh_expires_at) and self.refresh_expires_at <= now


def config_dir() -> Path:
    """The directory of the credentials (``ANBAO_CONFIG_DIR`` overrides it)."""
    if explicit := os.environ.get("ANBAO_CONFIG_DIR"):
        return Path(explicit)
    config = os.environ.get("XDG_CONFIG_HOME") or Path("~/.config").expanduser()
    return Path(config) / "anbao"


def credentials_path() -> Path:
    """Where ``anbao login`` keeps the tokens."""
    return config_dir() / "credentials.json"


def stored() -> dict[str, Any] | None:
    """The stored login as JSON, or None."""
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load() -> Login | None:
    """The stored login, or None when there is none or it is not one (an older format)."""
    data = stored()
    fields = {f.name: f.type for f in dataclasses.fields(Login)}
    if data is None or not set(data) <= set(fields):
        return None
    for name, kind in fields.items():
        value = data.get(name, 0.0 if kind == "float" else None)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number if kind == "float" else isinstance(value, str)):
            return None
    return Login(**data)


def save(login: Login) -> None:
    """Write ``login`` atomically, mode 0600, in a 0700 directory."""
    directory = _private_dir()
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".credentials-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(dataclasses.asdict(login), out)
            out.flush()
            os.fsync(out.fileno())
        Path(temp).replace(credentials_path())
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(directory)


def forget() -> None:
    """Delete the stored login."""
    credentials_path().unlink(missing_ok=True)


def _private_dir() -> Path:
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # an existing directory others could list is narrowed too
    return directory


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One refresh at a time across processes (an advisory lock on a file beside the tokens)."""
    fd = os.open(_private_dir() / "credentials.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def access_token(
    settings: Settings,
    *,
    now: Callable[[], float] = time.time,
    refresher: Refresher | None = None,
) -> str | None:
    """The stored access token, refreshed when near expiry; None when nobody signed in.

    Raises :class:`SessionEnded` when the login is for another realm than the settings name
    or Keycloak refuses the refresh (the stored tokens are then deleted).
    """
    login = load()
    if login is None:
        return None
    expected = issuer_url(settings.keycloak.url, settings.keycloak.realm)
    if login.issuer != expected:
        raise SessionEnded(
            f"you are signed in to {login.issuer}, but the settings name {expected}: "
            "sign in again with `anbao login`"
        )
    if login.fresh(now()):
        return login.access_token
    with _locked():
        login = load()  # another command may have refreshed meanwhile
        if login is None:
            raise SessionEnded("you were signed out: sign in again with `anbao login`")
        if login.fresh(now()):
            return login.access_token
        return _refreshed(login, now, refresher or _refresh_at_keycloak).access_token


def _refreshed(login: Login, now: Callable[[], float], refresher: Refresher) -> Login:
    from authlib.integrations.requests_client import OAuthError  # noqa: PLC0415 - only now

    if login.refresh_expired(now()):
        forget()
        raise SessionEnded("your session has expired: sign in again with `anbao login`")
    try:
        tokens = refresher(login)
    except OAuthError as exc:
        forget()
        raise SessionEnded(
            f"Keycloak ended your session ({exc.error}): sign in again with `anbao login`"
        ) from None
    renewed = login.with_tokens(tokens, now())
    save(renewed)
    return renewed


def _refresh_at_keycloak(login: Login) -> dict[str, Any]:
    from anbao.cli import oauth  # noqa: PLC0415 - the HTTP client only when refreshing

    return oauth.refresh(login.token_endpoint, login.client_id, login.refresh_token)
