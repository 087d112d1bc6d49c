"""Errors of realm-as-code, federation and the event puller (stable codes, client-safe text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from iam.errors import IamError

if TYPE_CHECKING:
    from iam.realm.source import Finding


class RealmFileInvalid(IamError):
    """The realm file does not parse or breaks a rule; every finding names its YAML path."""

    code = "realm_file_invalid"
    title = "Realm file invalid"

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(str(f) for f in self.findings) or self.title)


class RealmApplyFailed(IamError):
    """Keycloak refused a change; the message names the object, never echoes secrets."""

    code = "realm_apply_failed"
    title = "Realm change refused by Keycloak"


class EventCursorCorrupt(IamError):
    """The persisted event cursor cannot be read; refusing to guess avoids gaps and repeats."""

    code = "event_cursor_corrupt"
    title = "Event cursor unreadable"


class EventCursorUnavailable(IamError):
    """The shared event cursor's database cannot be reached; the pull is retried later."""

    code = "event_cursor_unavailable"
    title = "Event cursor unavailable"
