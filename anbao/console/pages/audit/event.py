"""One audit event in full, with its inclusion proof checked in the person's own browser.

The proof comes from ``GET /audit/events/{id}/proof`` (RFC 6962 / RFC 9162 structure with SM3,
``audit.integrity.merkle``): the event as the log hashed it (``leaf_input``), its leaf index,
the audit path and the signed tree head. The page does not take the server's word for it:
``static/audit-proof.js`` (ours, no library) recomputes in the browser

1. the leaf hash ``SM3(0x00 || leaf_input)`` and compares it with the logged one,
2. each step up the audit path, ``SM3(0x01 || left || right)`` (RFC 9162 §2.1.3.2),
3. the root, compared with the signed tree head's ``root_hash``,

and shows every step, then "proof verified" or the step that failed. SM3 is implemented in the
script (GB/T 32905-2016; checked against the standard's test vectors by the unit test and
against the server's SM3 by the journey, which sees the same leaf hash). The tree head's SM2
signature is not checked in the page: the page names the signing key and shows its public key,
and ``anbao audit verify`` (or an assessor's own tools) checks the heads themselves.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import falcon
import falcon.asgi

from anbao.console.api import Problem
from anbao.console.pages.audit import state as st
from anbao.console.pages.audit.search import ROLES
from anbao.console.web import Page, View

_EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_NOT_LOGGED = "audit_event_not_logged"


class AuditEvent(Page):
    roles = ROLES

    async def get(
        self,
        view: View,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        *,
        event_id: str = "",
        **_: str,
    ) -> None:
        if not _EVENT_ID.fullmatch(event_id):
            raise falcon.HTTPNotFound()
        back = st.SearchState.read(req.get_param).query()
        async with view.api() as api:
            found = await api.get("/audit/events", q=f"event.id:{st.quote(event_id)}", size=1)
            events = found["events"]
            if not events:
                raise falcon.HTTPNotFound(title=view.tr.t("No such event in your scope"))
            proof, pending = await _proof(api, event_id)
        self.console.render(
            req,
            resp,
            "audit_event.html",
            view,
            event=events[0],
            event_id=event_id,
            fields=st.flatten(events[0]),
            proof=proof,
            pending=pending,
            back=back,
        )


async def _proof(api: Any, event_id: str) -> tuple[dict[str, Any] | None, Problem | None]:
    """The proof, or the API's reason there is none yet (no signed head covers the event)."""
    try:
        return await api.get(f"/audit/events/{quote(event_id, safe='')}/proof"), None
    except Problem as problem:
        if problem.status == 409 or problem.type.endswith(_NOT_LOGGED):  # noqa: PLR2004
            return None, problem
        raise
