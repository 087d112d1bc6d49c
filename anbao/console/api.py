"""The console calls Anbao's own API, in process, with the signed-in person's access token.

A backend-for-frontend proxies API calls and attaches the token itself. Calling the API —
not the packages' services — means every page is decided by exactly the rules the API
enforces: the same authorization (roles, live org scope, step-up, introspection of high-risk
routes), the same body checks, the same audit records of who did what. The call goes through
the whole ASGI app (httpx's ``ASGITransport``) without a socket, with the browser's address as
the client's, so the trail names where the person really was.

Only the paths of :data:`ALLOWED` are reachable (the draft's rule: forward to an allowlist).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import httpx

from anbao.web.asgi_app import AsgiApp

#: API path prefixes the console may call (the OAuth browser-apps draft's allowlist).
ALLOWED = (
    "/whoami",
    "/readyz",
    "/audit/",
    "/siem/",
    "/iam/",
    "/seals",
    "/compliance/",
)
_BASE = "http://anbao.internal"


@dataclasses.dataclass(frozen=True, slots=True)
class Problem(Exception):
    """An API answer that is not a success: RFC 9457 fields as the API sent them."""

    status: int
    type: str
    title: str
    detail: str
    body: Mapping[str, Any]

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class StepUpRequired(Exception):
    """The API asks for a higher authentication level (RFC 9470) before this action."""

    def __init__(self, acr: str) -> None:
        super().__init__(acr)
        self.acr = acr


class SessionEnded(Exception):
    """The API no longer accepts the session's token (revoked, ended at the realm)."""


class ApiClient:
    """The API as one signed-in person (or anonymously, ``token=""``, for public routes)."""

    def __init__(self, app: AsgiApp, token: str, client: tuple[str, int]) -> None:
        transport = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(transport=transport, base_url=_BASE, headers=headers)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The raw answer of an allowed path; raises on step-up, an ended session, a problem."""
        if not path.startswith(ALLOWED) or ".." in path:
            raise ValueError(f"the console does not call {path}")
        answer = await self._http.request(method, path, **kw)
        if answer.status_code < 400:  # noqa: PLR2004
            return answer
        challenge = answer.headers.get("www-authenticate", "")
        if answer.status_code == 401 and "insufficient_user_authentication" in challenge:  # noqa: PLR2004
            raise StepUpRequired(_param(challenge, "acr_values") or "2")
        if answer.status_code == 401:  # noqa: PLR2004
            raise SessionEnded
        raise _problem(answer)

    async def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return (await self.call("GET", path, params=clean)).json()

    async def send(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """A change; the JSON answer, or None for an empty one."""
        if body is not None:
            kw["json"] = body
        answer = await self.call(method, path, **kw)
        if not answer.content or "json" not in answer.headers.get("content-type", ""):
            return None
        return answer.json()


def _problem(answer: httpx.Response) -> Problem:
    try:
        body = answer.json()
    except json.JSONDecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return Problem(
        status=answer.status_code,
        type=str(body.get("type", "about:blank")),
        title=str(body.get("title", answer.reason_phrase)),
        detail=str(body.get("detail", "")),
        body=body,
    )


def _param(challenge: str, name: str) -> str:
    for part in challenge.split(","):
        key, _, value = part.strip().partition("=")
        if key.endswith(name):
            return value.strip('"')
    return ""
