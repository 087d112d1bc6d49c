"""An API answer streamed through the console, chunk by chunk, as the API produces it.

:class:`anbao.console.api.ApiClient` goes through httpx's ``ASGITransport``, which collects the
whole body before it returns: right for a page of JSON, wrong for an export of a million events
(the console would hold all of it before the browser saw a byte). This module calls the same
in-process ASGI app directly and hands its ``http.response.body`` messages on as they come, so
the browser's progress shows the API's real pace and the console holds one chunk at a time.
The same rules apply as for every API call: the allowlist of paths, the person's own token,
the browser's address as the client's, and a problem (or the step-up and ended-session
answers) raised before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

from anbao.console.api import ALLOWED, Problem, SessionEnded, StepUpRequired
from anbao.web.asgi_app import AsgiApp

_HOST = b"anbao.internal"
_UNAUTHORIZED = 401


class Streamed:
    """The answer's status and headers (lower-case names), and its body still to come."""

    def __init__(self, status: int, headers: Mapping[str, str], body: AsyncIterator[bytes]) -> None:
        self.status, self.headers, self.body = status, headers, body


@contextlib.asynccontextmanager
async def stream(
    app: AsgiApp,
    token: str,
    client: tuple[str, int],
    path: str,
    params: Mapping[str, str],
) -> AsyncIterator[Streamed]:
    """GET ``path`` as the person; the body is read while the ``with`` block iterates it."""
    if not path.startswith(ALLOWED) or ".." in path:
        raise ValueError(f"the console does not call {path}")
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=8)
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not getattr(receive, "sent", False):
            receive.sent = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await queue.put(message)

    scope = _scope(token, client, path, params)
    task = asyncio.create_task(app(scope, receive, send))
    try:
        start = await _next(queue, task)
        status = int(start["status"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
        if status >= 400:  # noqa: PLR2004
            body = b"".join([chunk async for chunk in _body(queue, task)])
            raise _refusal(status, headers, body)
        yield Streamed(status, headers, _body(queue, task))
    finally:
        done.set()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _scope(
    token: str, client: tuple[str, int], path: str, params: Mapping[str, str]
) -> dict[str, Any]:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")}).encode()
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", _HOST), (b"authorization", f"Bearer {token}".encode())],
        "client": client,
        "server": (_HOST.decode(), 80),
    }


async def _next(queue: asyncio.Queue[dict[str, Any]], task: asyncio.Task[Any]) -> dict[str, Any]:
    """The app's next message; if it ends without one, its exception (or a 502)."""
    getter = asyncio.ensure_future(queue.get())
    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
    if getter.done():
        return getter.result()
    getter.cancel()
    if not queue.empty():
        return queue.get_nowait()
    task.result()  # raises the app's own exception, if any
    raise Problem(502, "about:blank", "Bad gateway", "The API ended without an answer.", {})


async def _body(
    queue: asyncio.Queue[dict[str, Any]], task: asyncio.Task[Any]
) -> AsyncIterator[bytes]:
    while True:
        message = await _next(queue, task)
        if message.get("type") != "http.response.body":
            continue
        chunk = bytes(message.get("body", b""))
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _refusal(status: int, headers: Mapping[str, str], body: bytes) -> Exception:
    challenge = headers.get("www-authenticate", "")
    if status == _UNAUTHORIZED and "insufficient_user_authentication" in challenge:
        return StepUpRequired("2")
    if status == _UNAUTHORIZED:
        return SessionEnded()
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    return Problem(
        status=status,
        type=str(data.get("type", "about:blank")),
        title=str(data.get("title", "")),
        detail=str(data.get("detail", "")),
        body=data,
    )
