"""Commands that read the platform's state refuse a store that does not exist.

Why: opening an SQLite file creates it. A command pointed at the wrong data directory would
make empty stores and report them as the platform's state (no events, no alerts, failing
controls, a fresh signing key) instead of the mistake. The message names the path and the
settings that choose it. Other databases (Elasticsearch, PostgreSQL) are not created by a
read: their own errors say when they are missing.
"""

from __future__ import annotations

from pathlib import Path

import click

from anbao.settings import AuditStoreKind, Settings, env_name

#: Exit status of a refused command (as for bad input elsewhere in the CLI).
EXIT_MISSING = 2


class MissingStore(click.ClickException):
    exit_code = EXIT_MISSING


def require(setting: str, location: str, *, made_by: str = "") -> None:
    """Refuse when the store named by ``setting`` (a path or a ``sqlite:///`` URL) is absent;
    ``made_by`` names the command that creates it, if one does."""
    if location.startswith("sqlite:///"):
        location = location.removeprefix("sqlite:///")
    elif "://" in location:
        return
    if location in {"", ":memory:"} or Path(location).exists():
        return
    raise MissingStore(
        f"no store at {location} ({setting}): set data_dir ({env_name('data_dir')}) "
        f"or {setting} ({env_name(setting)}) to the platform's"
        + (f", or create it: {made_by}" if made_by else "")
    )


def require_audit(settings: Settings) -> None:
    """The audit events (embedded store) and their tamper-evidence log."""
    if settings.audit.store is AuditStoreKind.SQLITE:
        require("audit.sqlite_path", settings.audit.sqlite_path)
    if not settings.cluster.clustered:  # in a cluster the log is PostgreSQL's
        require("audit_integrity.log_path", settings.audit_integrity.log_path)
