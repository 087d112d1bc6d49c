"""What sensitive console actions share: a fresh step-up, and credentials shown exactly once.

Role grants are sensitive (issue 19 §2): before one, the console asks the API who the person is
now (``/whoami``, the token the API verifies) and, below ``acr`` 2, answers with the same
step-up the API asks for elsewhere (RFC 9470), so the core's :class:`~anbao.console.web.Page`
sends the person to Keycloak and offers the action again afterwards. The level is read from
the live token, not remembered by the console, so it lasts only as long as Keycloak's LoA age.

A new client secret or activation link is a credential: it is kept in the person's server-side
session just long enough to cross the POST/redirect/GET, shown by the next page, and dropped —
reloading that page, or the browser's history, does not show it again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import falcon

from anbao.console.api import ApiClient, Problem, StepUpRequired
from anbao.console.web import View

#: The authentication level a role grant needs (Keycloak's acr.loa.map: "2" = password + OTP).
STEP_UP_ACR = "2"


async def require_step_up(api: ApiClient) -> None:
    """Raise :class:`StepUpRequired` unless the person's live token is at ``acr`` 2 or above."""
    me = await api.get("/whoami")
    try:
        level = int(str(me.get("acr") or "0"))
    except ValueError:
        level = 0
    if level < int(STEP_UP_ACR):
        raise StepUpRequired(STEP_UP_ACR)


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
