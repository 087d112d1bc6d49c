"""Request bodies at the ASGI edge: never waited for before the headers are judged, and read
against a deadline.

Falcon's ASGI app awaits the first ``http.request`` event before any middleware runs. A client
that declares a body and does not send it (a 50 MB ``Content-Length`` and nothing after) was
therefore never answered: the 413 of :class:`anbao.web.middleware.RequestContextMiddleware` sat
behind that wait, and so did every other answer. And a body sent a byte a minute held a worker's
request open for as long as the client liked.

:class:`App` gives Falcon an empty first event at once for a request that declares a body, so
the middleware judges the headers (413 above ``server.max_body_bytes``, 411 chunked, 400
malformed) before a byte is read. Reading the body afterwards goes through a deadline of
``server.body_timeout_seconds`` from the start of the request (408 problem+json). A response
sent before the whole body was received closes the connection (``Connection: close``), since
what is left of the body would otherwise be read as the next request's bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import falcon
import falcon.asgi

Event = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Event]]
Send = Callable[[Event], Awaitable[None]]

_FIRST: Event = {"type": "http.request", "body": b"", "more_body": True}
_CLOSE = (b"connection", b"close")


class BodyTimeout(falcon.HTTPError):
    """408: the body did not arrive within ``server.body_timeout_seconds`` (RFC 9110 §15.5.9)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            falcon.HTTP_408,
            title="Request Timeout",
            description=f"The request body did not arrive within {seconds:g} seconds.",
            headers={"Connection": "close"},
        )


def _declares_body(headers: list[Any]) -> bool:
    """True when the request says a body follows (a non-zero length, or any transfer coding)."""
    for name, value in headers:
        if name == b"content-length" and value.strip() != b"0":
            return True
        if name == b"transfer-encoding":
            return True
    return False


def _headers(scope: dict[str, Any]) -> list[Any]:
    """The scope's header pairs, read once for Falcon too where they are one-shot iterables.

    ASGI allows any iterable of iterable pairs (Falcon's test client passes an iterator of
    one-shot pairs); servers pass a list of tuples, which is used as it is: this runs on every
    request, so the check is one type test.
    """
    headers = scope["headers"]
    if type(headers) is not list:
        scope["headers"] = headers = [tuple(pair) for pair in headers]
    return headers


class _Body:
    """One request's body: the deadline for reading it, and whether all of it has arrived."""

    __slots__ = ("_deadline", "_first", "_receive", "_seconds", "_send", "complete")

    def __init__(self, receive: Receive, send: Send, seconds: float) -> None:
        self._receive = receive
        self._send = send
        self._seconds = seconds
        self._deadline = asyncio.get_running_loop().time() + seconds
        self._first = True
        self.complete = False

    async def receive(self) -> Event:
        if self._first:  # Falcon's wait before the middleware: answered without reading
            self._first = False
            return dict(_FIRST)
        try:
            async with asyncio.timeout_at(self._deadline):
                event = await self._receive()
        except TimeoutError:
            raise BodyTimeout(self._seconds) from None
        if event["type"] != "http.request" or not event.get("more_body", False):
            self.complete = True
        return event

    async def send(self, event: Event) -> None:
        if event["type"] == "http.response.start" and not self.complete:
            headers = list(event.get("headers", ()))
            if not any(name.lower() == b"connection" for name, _ in headers):
                event["headers"] = [*headers, _CLOSE]
        await self._send(event)


class App(falcon.asgi.App):  # type: ignore[type-arg]
    """Falcon's ASGI app with request bodies bounded as the module describes."""

    def __init__(self, *, body_timeout_seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self.body_timeout_seconds = body_timeout_seconds

    async def __call__(  # type: ignore[override]
        self, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        if scope["type"] == "http" and _declares_body(_headers(scope)):
            body = _Body(receive, send, self.body_timeout_seconds)
            receive, send = body.receive, body.send
        await super().__call__(scope, receive, send)
