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

A JSON body is read through Falcon's media handling (``await req.get_media()``, the I-JSON
handler of :func:`anbao.web.errors.install`) and checked there, once, against the
``requestBody`` schema its operation publishes in the OpenAPI document (:class:`BodyRule`):
the published contract is the enforced one, and no resource carries its own body reader. The
check runs when the resource reads the body, so authorization inside a responder still comes
first. A violation is a 400 problem naming the field; its ``type`` is the operation's
``x-problem-code`` (the package's own invalid-input code), else ``invalid_body``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import falcon
import falcon.asgi
import jsonschema_rs
from falcon._typing import _UNSET, UnsetOr

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


#: The OpenAPI extension of a ``requestBody`` naming the problem code of a schema violation.
PROBLEM_CODE = "x-problem-code"


#: Most violations one problem lists (a hostile body can break a rule per array item).
MAX_ERRORS = 20


class InvalidBody(Exception):
    """400: the body breaks its operation's published schema. The problem names the first
    ``field`` and lists ``errors`` as ``{"field", "reason"}`` (the shape of
    :class:`iam.errors.InvalidRequest`)."""

    title = "Invalid request body"

    def __init__(self, code: str, errors: list[tuple[str, str]]) -> None:
        field, reason = errors[0]
        super().__init__(f"{field}: {reason}")
        self.code = code
        self.detail = f"{field}: {reason}"
        self.problem_extra = {
            "field": field,
            "errors": [{"field": f, "reason": r} for f, r in errors],
        }


def _reason(error: jsonschema_rs.ValidationError, schema: Mapping[str, Any]) -> tuple[str, str]:
    """The field and a short reason; never the client's value (it may be huge or secret)."""
    name, facts = error.kind.name, error.kind.as_dict()
    path = [str(p) for p in error.instance_path]
    if name == "required":
        path.append(str(facts["property"]))
    elif name == "additionalProperties":
        path.append(str(sorted(facts["unexpected"])[0])[:64])
    own = _subschema(schema, error.schema_path)
    if own.get("deprecated") and own.get("description"):
        return ".".join(path) or "body", str(own["description"])
    reasons = {
        "required": "required",
        "additionalProperties": "unknown field",
        "type": f"expected {' or '.join(map(str, facts.get('types', ())))}",
        "enum": f"expected one of {', '.join(map(str, facts.get('options', ())))}",
    }
    plain = {k: v for k, v in facts.items() if isinstance(v, str | int | float)}
    reason = reasons.get(name) or f"breaks {name} {json.dumps(plain, ensure_ascii=False)}"
    return ".".join(path) or "body", reason[:200]


def _subschema(schema: Mapping[str, Any], schema_path: Any) -> Mapping[str, Any]:
    """The property schema the failed keyword belongs to (for its ``deprecated`` note)."""
    node: Any = schema
    for step in list(schema_path)[:-1]:
        node = node[step] if isinstance(node, Mapping | list) else {}
    return node if isinstance(node, Mapping) else {}


class BodyRule:
    """One operation's JSON request body as the OpenAPI document publishes it: the schema (the
    one validator of request bodies: JSON Schema 2020-12, OpenAPI 3.1's dialect), whether a
    body is ``required``, and the problem ``code`` of a violation."""

    __slots__ = ("_schema", "_validator", "code", "required")

    def __init__(
        self, schema: Mapping[str, Any], *, code: str = "invalid_body", required: bool = False
    ) -> None:
        self._schema = schema
        self._validator = jsonschema_rs.Draft202012Validator(dict(schema))
        self.code = code
        self.required = required

    def check(self, media: object) -> object:
        """``media`` when the schema admits it; else :class:`InvalidBody` with the violations."""
        errors = itertools.islice(self._validator.iter_errors(media), MAX_ERRORS)
        found = [_reason(error, self._schema) for error in errors]
        if found:
            raise InvalidBody(self.code, found)
        return media

    def empty(self) -> object:
        """What an empty body reads as: refused when required (RFC 9110 has no default body),
        else ``{}`` checked like any other body."""
        if self.required:
            raise InvalidBody(self.code, [("body", "required")])
        return self.check({})

    @classmethod
    def of(cls, operation: Mapping[str, Any]) -> BodyRule | None:
        """The rule of an OpenAPI operation with a JSON request body, else None."""
        body = operation.get("requestBody") or {}
        schema = body.get("content", {}).get(falcon.MEDIA_JSON, {}).get("schema")
        if schema is None:
            return None
        code = str(body.get(PROBLEM_CODE, "invalid_body"))
        return cls(schema, code=code, required=bool(body.get("required", False)))


class Options(falcon.RequestOptions):
    """Falcon's request options plus each route's :class:`BodyRule`, by URI template and method:
    looked up when a body is read, so requests that read none pay nothing (no middleware)."""

    __slots__ = ("body_rules",)

    def __init__(self, default_media_type: str) -> None:
        super().__init__()
        self.default_media_type = default_media_type
        self.body_rules: dict[tuple[str, str], BodyRule] = {}

    def add(self, template: str, operations: Mapping[str, Mapping[str, Any]]) -> None:
        """Compile the JSON request schemas of a route's operations (by lower-case method)."""
        for method, operation in operations.items():
            rule = BodyRule.of(operation)
            if rule is not None:
                self.body_rules[template, method.upper()] = rule


_EMPTY = object()


class Request(falcon.asgi.Request):
    """Falcon's request whose ``get_media`` also applies the operation's :class:`BodyRule`:
    the first read is checked (an empty body reads as the rule says), later reads are cached."""

    async def get_media(self, default_when_empty: UnsetOr[Any] = _UNSET) -> Any:
        rules = getattr(self.options, "body_rules", None)
        rule: BodyRule | None = rules.get((self.uri_template, self.method)) if rules else None
        if rule is None or self._media is not _UNSET or self._media_error is not None:
            return await super().get_media(default_when_empty)
        try:
            media = await super().get_media(_EMPTY)
            media = rule.empty() if media is _EMPTY else rule.check(media)
        except InvalidBody as exc:
            self._media, self._media_error = _UNSET, exc
            raise
        self._media, self._media_error = media, None
        return media


class App(falcon.asgi.App):  # type: ignore[type-arg]
    """Falcon's ASGI app with request bodies bounded and checked as the module describes.

    ``probes``: answers for a bodiless ``GET`` of a path, given before Falcon (the liveness
    probe, :meth:`anbao.web.middleware.RequestContextMiddleware.probe`).
    """

    def __init__(
        self,
        *,
        body_timeout_seconds: float,
        probes: Mapping[str, Callable[[list[Any], Send], Awaitable[None]]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(request_type=Request, **options)
        self.req_options = Options(self.req_options.default_media_type)
        self.body_timeout_seconds = body_timeout_seconds
        self._probes = dict(probes or {})

    async def __call__(  # type: ignore[override]
        self, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        if scope["type"] == "http":
            headers = _headers(scope)
            if _declares_body(headers):
                body = _Body(receive, send, self.body_timeout_seconds)
                receive, send = body.receive, body.send
            elif scope["method"] == "GET" and not scope.get("root_path"):
                probe = self._probes.get(scope["path"])
                if probe is not None:
                    await probe(headers, send)
                    return
        await super().__call__(scope, receive, send)
