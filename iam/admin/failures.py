"""What a Keycloak admin status means for Anbao, decided once for every admin adapter.

Each package names the outcome in its own errors (an org, an app, a SIEM response target), but
the reading is the same everywhere: a request Keycloak cannot take because of what the caller
sent is the caller's mistake (4xx), never an outage (503).
"""

from __future__ import annotations

from enum import Enum


class Failure(Enum):
    """What a Keycloak admin status means for Anbao (each package names it in its own errors)."""

    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    #: Any other 4xx: a request only the caller's input can have caused (never an outage).
    INVALID = "invalid"
    #: 5xx, no answer, or Keycloak refusing Anbao's own credentials (401 after refresh, 403).
    UNAVAILABLE = "unavailable"


def failure(status: int | None) -> Failure:
    """The one reading of a Keycloak admin status: a caller's mistake is never an outage."""
    if status is None or status in (401, 403) or status >= 500:  # noqa: PLR2004
        return Failure.UNAVAILABLE
    if status == 404:  # noqa: PLR2004
        return Failure.NOT_FOUND
    if status == 409:  # noqa: PLR2004
        return Failure.CONFLICT
    return Failure.INVALID if 400 <= status < 500 else Failure.UNAVAILABLE  # noqa: PLR2004
