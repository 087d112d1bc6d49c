"""Credentials shown exactly once, and the status a page answers for an API problem.

A new client secret or activation link is a credential: it is kept in the person's server-side
session just long enough to cross the POST/redirect/GET, shown by the next page, and dropped —
reloading that page, or the browser's history, does not show it again. (Role grants step up
with :meth:`anbao.console.web.View.require_acr` before the API is called.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import falcon

from anbao.console.api import Problem
from anbao.console.web import View
from iam.orgs import PLATFORM_ADMIN, PLATFORM_ROLES


def show_once(view: View, kind: str, **values: Any) -> None:
    """Keep ``values`` for the next page of this session, once."""
    view.session = dataclasses.replace(view.session, once={"kind": kind, **values})
    view.console.store.save(view.session_id, view.session)


def take_once(view: View, kind: str) -> dict[str, Any] | None:
    """What :func:`show_once` kept for ``kind``, removed from the session as it is read."""
    once = view.session.once
    if not once or once.get("kind") != kind:
        return None
    view.session = dataclasses.replace(view.session, once=None)
    view.console.store.save(view.session_id, view.session)
    return dict(once)


def status_of(problem: Problem) -> str:
    """The page's HTTP status for an API problem it shows (the API's own, a 5xx as 502)."""
    code = problem.status if 400 <= problem.status < 500 else 502  # noqa: PLR2004
    return str(falcon.code_to_http_status(code))


def grantable(view: View) -> list[str]:
    """The platform roles the forms offer this person to grant: every one to a platform-admin,
    else those they hold but platform-admin (the API's rule; it decides again on each grant)."""
    if view.has(PLATFORM_ADMIN):
        return sorted(PLATFORM_ROLES)
    return sorted((view.roles & PLATFORM_ROLES) - {PLATFORM_ADMIN})
