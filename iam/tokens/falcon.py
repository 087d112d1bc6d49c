"""Falcon integration of the token verifier: deny by default, declare requirements per route.

Every resource needs a valid bearer token (RFC 6750 §2.1) unless it sets
``auth_required = False``; the middleware puts the :class:`~iam.tokens.model.Principal` in
``req.context.principal``. Routes declare what else they need with :func:`requires`, as a
decorator on a responder or on the whole resource class::

    class Reports:
        @requires(roles=["auditor"], acr="2")
        async def on_get(self, req, resp): ...

    @requires(any_role=["app-developer", "platform-admin"])
    class Apps: ...

An ``acr`` below the requirement answers 401 with ``error="insufficient_user_authentication"``
and the ``acr_values`` to ask for (RFC 9470 §3); a missing role or scope answers 403;
``introspect=True`` also asks the issuer whether the token is still active (RFC 7662).

Anbao's own high-risk routes, in every package, declare it one way: a plain class attribute
``introspect_methods = frozenset({"POST"})``, which the middleware honours right after
authentication — before any role or scope decision, so an ended session is always a 401 — and
which needs no import of this module. ``requires(introspect=True)`` is the same check for other
resource servers using this edge. Either way a route that must introspect is refused (503)
when no introspection is configured: it never silently runs on a token that may have been
revoked.

There is one authorization decision, :meth:`Requirement.authorize`; packages that may not
import ``iam`` (``crypto``, ``audit``, ``siem``) receive it as a :class:`Guard` built by
:func:`guard`, which only translates the :class:`Authorized` caller into the package's own
actor type: roles, step-up, introspection and the live org scope are decided here, once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import ipaddress
import json
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeAlias, TypeVar

import falcon
import falcon.asgi

from iam.errors import (
    Forbidden,
    IdentityProviderUnavailable,
    InsufficientAuthentication,
    Unauthenticated,
)
from iam.orgs.scope import OrgScope
from iam.tokens.introspection import IntrospectionCache
from iam.tokens.model import Principal
from iam.tokens.verifier import TokenVerifier

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
#: The live org-scope authority: a token's ``sub`` -> :class:`~iam.orgs.scope.OrgScope` (blocking).
ScopeResolver: TypeAlias = Callable[[str], OrgScope]
App: TypeAlias = falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1), or raise."""
    if not authorization:
        raise Unauthenticated("A bearer token is required.", bearer_error="")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(
            "The Authorization header must be 'Bearer <token>'.", bearer_error="invalid_request"
        )
    return token


class _Credential:
    """The request's bearer token, kept for introspection; its repr never shows the token."""

    __slots__ = ("acr_levels", "introspection", "scopes", "token")

    def __init__(
        self,
        token: str,
        introspection: IntrospectionCache | None,
        acr_levels: Mapping[str, int],
        scopes: ScopeResolver | None = None,
    ) -> None:
        self.token = token
        self.introspection = introspection
        self.acr_levels = acr_levels
        self.scopes = scopes

    def __repr__(self) -> str:
        return "_Credential(<bearer token>)"


class AuthMiddleware:
    """Authenticates every request to a protected resource and puts the principal in context.

    ``introspection`` serves routes declared with ``requires(introspect=True)``; ``acr_levels``
    orders named assurance levels (Keycloak's ``acr.loa.map``, e.g. ``{"silver": 1, "gold": 2}``);
    ``scopes`` resolves the caller's live org scope for :func:`org_scope` (without it, every
    caller's scope is empty: deny by default).
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        introspection: IntrospectionCache | None = None,
        acr_levels: Mapping[str, int] | None = None,
        scopes: ScopeResolver | None = None,
    ) -> None:
        self._verifier = verifier
        self._introspection = introspection
        self._acr_levels = dict(acr_levels or {})
        self._scopes = scopes

    async def process_shutdown(self, scope: object, event: object) -> None:
        """ASGI lifespan: release the verifier's and the introspection's connections."""
        del scope, event
        self._verifier.close()
        if self._introspection is not None:
            self._introspection.close()

    async def process_resource(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        params: dict[str, Any],
    ) -> None:
        del resp, params
        req.context.principal = None
        if resource is None or not getattr(resource, "auth_required", True):
            return
        token = bearer_token(req.get_header("Authorization"))
        principal = self._verifier.try_verify(token)  # cache hit or inline check: no I/O
        if principal is None:  # a JWKS fetch first (start-up, rotation): not on the loop
            principal = await asyncio.to_thread(self._verifier.verify, token)
        req.context.principal = principal
        credential = _Credential(token, self._introspection, self._acr_levels, self._scopes)
        req.context.credential = credential
        if req.method in getattr(resource, "introspect_methods", ()):
            await ensure_alive(credential, principal)

    async def authenticate(self, token: str) -> Principal:
        """Cache hit or inline RSA check; a JWKS fetch goes to a thread (no event-loop stall)."""
        principal = self._verifier.try_verify(token)
        if principal is None:
            principal = await asyncio.to_thread(self._verifier.verify, token)
        return principal


async def ensure_alive(credential: _Credential | None, principal: Principal) -> None:
    """Ask the issuer whether the session behind the token is still alive (RFC 7662 §2.2).

    Deny by default: without introspection the route is refused, not run unchecked.
    """
    if credential is None or credential.introspection is None:
        raise IdentityProviderUnavailable(
            "This route needs token introspection, which is not configured."
        )
    await asyncio.to_thread(credential.introspection.ensure_active, credential.token, principal)


async def org_scope(req: falcon.asgi.Request) -> OrgScope:
    """The caller's live org scope (:mod:`iam.orgs.scope`), resolved once per request, off the loop.

    Never from the token's ``org_path``: from the directory's binding of the token's subject.
    No principal or no resolver: the empty scope.
    """
    known: OrgScope | None = getattr(req.context, "org_scope", None)
    if known is not None:
        return known
    principal: Principal | None = getattr(req.context, "principal", None)
    credential: _Credential | None = getattr(req.context, "credential", None)
    scope = OrgScope.nothing()
    if principal is not None and credential is not None and credential.scopes is not None:
        scope = await asyncio.to_thread(credential.scopes, principal.subject)
    req.context.org_scope = scope
    return scope


def challenge(exc: Exception) -> str:
    """The ``WWW-Authenticate`` value for a 401 (RFC 6750 §3; RFC 9470 §3 adds ``acr_values``)."""
    parts = ['Bearer realm="anbao"']
    error = getattr(exc, "bearer_error", None)
    if error:
        parts.append(f'error="{error}"')
    acr_values = getattr(exc, "acr_values", None)
    if acr_values:
        parts.append(f'acr_values="{" ".join(acr_values)}"')
    return ", ".join(parts)


_STATUS = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (IdentityProviderUnavailable, 503),
)


async def _handle_iam_error(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, exc: Exception, params: object
) -> None:
    """RFC 9457 problem details for the SDK's errors, for apps without Anbao's error table."""
    del req, params
    status = next(code for cls, code in _STATUS if isinstance(exc, cls))
    body: dict[str, Any] = {
        "type": "urn:anbao:problem:" + str(getattr(exc, "code", "error")),
        "title": str(getattr(exc, "title", "Error")),
        "status": status,
        "detail": str(getattr(exc, "detail", "")),
        **getattr(exc, "problem_extra", {}),
    }
    resp.status = status
    resp.content_type = "application/problem+json"
    resp.text = json.dumps(body, ensure_ascii=False)
    if status == 401:  # noqa: PLR2004
        resp.set_header("WWW-Authenticate", challenge(exc))


def protect(
    app: App,
    verifier: TokenVerifier,
    *,
    introspection: IntrospectionCache | None = None,
    acr_levels: Mapping[str, int] | None = None,
) -> App:
    """Everything an app needs in one call: the middleware and 401/403/503 problem responses.

    ``protect(falcon.asgi.App(), keycloak_verifier(url, realm, audience="my-app"))``
    """
    app.add_middleware(AuthMiddleware(verifier, introspection=introspection, acr_levels=acr_levels))
    for cls, _ in _STATUS:
        app.add_error_handler(cls, _handle_iam_error)
    return app


def acr_satisfies(actual: str, required: str, levels: Mapping[str, int] | None = None) -> bool:
    """Whether ``actual`` is at least ``required`` (RFC 9470 §3; Keycloak LoA numbers or names).

    Keycloak's levels of assurance are numbers ("0", "1", "2"…) unless mapped to names; names
    are ordered through ``levels``; anything else must match exactly.
    """
    levels = levels or {}
    a = levels.get(actual, int(actual) if actual.isdigit() else None)
    r = levels.get(required, int(required) if required.isdigit() else None)
    if a is not None and r is not None:
        return a >= r
    return actual == required


class Requirement:
    """What a route needs beyond a valid token. Use through :func:`requires`."""

    def __init__(
        self,
        *,
        roles: Iterable[str] = (),
        any_role: Iterable[str] = (),
        client_roles: Iterable[str] = (),
        scopes: Iterable[str] = (),
        acr: str | None = None,
        introspect: bool = False,
        whole_tree: bool = False,
    ) -> None:
        for name, value in (("roles", roles), ("any_role", any_role), ("scopes", scopes)):
            if isinstance(value, str):
                raise TypeError(f"requires({name}=...) takes a list of names, not a string")
        self.roles = frozenset(roles)
        self.any_role = frozenset(any_role)
        self.client_roles = frozenset(client_roles)
        self.scopes = frozenset(scopes)
        self.acr = acr
        self.introspect = introspect
        self.whole_tree = whole_tree

    def check(
        self, principal: Principal | None, *, acr_levels: Mapping[str, int] | None = None
    ) -> Principal:
        """The framework-free decision: 401 for authentication, 403 for authorization."""
        if principal is None:
            raise Unauthenticated("A bearer token is required.", bearer_error="")
        if self.acr is not None and not acr_satisfies(principal.acr, self.acr, acr_levels):
            raise InsufficientAuthentication(
                (self.acr,), "This operation needs a stronger sign-in."
            )
        if not self.roles <= principal.roles or not principal.has_any_role(self.any_role):
            raise Forbidden("A required role is missing.")
        if not self.client_roles <= principal.client_roles:
            raise Forbidden("A required role of this service is missing.")
        if not self.scopes <= principal.scopes:
            raise Forbidden("A required scope is missing.")
        return principal

    async def enforce(self, req: falcon.asgi.Request) -> Principal:
        """Check the request's principal; with ``introspect`` also ask the issuer (RFC 7662)."""
        principal: Principal | None = getattr(req.context, "principal", None)
        credential: _Credential | None = getattr(req.context, "credential", None)
        if principal is not None and self.introspect:
            await ensure_alive(credential, principal)
        levels = credential.acr_levels if credential is not None else None
        checked = self.check(principal, acr_levels=levels)
        if self.whole_tree and not (await org_scope(req)).whole_tree:
            raise Forbidden("This covers the whole platform; your org binding does not.")
        return checked

    async def authorize(self, req: falcon.asgi.Request) -> Authorized:
        """:meth:`enforce`, then the caller as every resource needs it: principal, live org
        scope (the directory's binding, never the token's ``org_path``) and source address."""
        principal = await self.enforce(req)
        credential: _Credential | None = getattr(req.context, "credential", None)
        return Authorized(
            principal=principal,
            scope=await org_scope(req),
            source_ip=client_ip(req),
            acr_levels=credential.acr_levels if credential is not None else {},
        )

    async def hook(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        params: dict[str, Any],
    ) -> None:
        """A Falcon ``before`` hook: ``@falcon.before(requires(...).hook)``."""
        del resp, resource, params
        await self.enforce(req)

    def __call__(self, target: T) -> T:
        """Decorate a responder (``async def on_get``) or every responder of a resource class."""
        if inspect.isclass(target):
            # Inherited responders too: a guard that skipped them would fail open.
            for name in dir(target):
                member = getattr(target, name)
                if name.startswith("on_") and callable(member):
                    setattr(target, name, self._wrap(member))
            return target
        if callable(target):
            return typing.cast(T, self._wrap(target))
        raise TypeError("requires(...) decorates a responder or a resource class")

    def _wrap(self, responder: Callable[..., Any]) -> Any:
        if not inspect.iscoroutinefunction(responder):
            raise TypeError(f"{responder.__qualname__}: requires(...) needs an async responder")

        @functools.wraps(responder)
        async def guarded(
            resource: object, req: falcon.asgi.Request, resp: falcon.asgi.Response, **kw: Any
        ) -> Any:
            await self.enforce(req)
            return await responder(resource, req, resp, **kw)

        guarded.__anbao_requirement__ = self  # type: ignore[attr-defined]
        return guarded


def requires(
    *,
    roles: Iterable[str] = (),
    any_role: Iterable[str] = (),
    client_roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    acr: str | None = None,
    introspect: bool = False,
    whole_tree: bool = False,
) -> Requirement:
    """Declare a route's needs: all of ``roles``, one of ``any_role``, all ``scopes``, ``acr``.

    ``client_roles`` are roles of the verifying service's own client; ``introspect=True``
    rejects tokens revoked at the issuer (RFC 7662), at the cost of a cached round trip;
    ``whole_tree=True`` serves platform-wide data only to callers whose live org scope is the
    whole tree (:attr:`iam.orgs.scope.OrgScope.whole_tree`).
    """
    return Requirement(
        roles=roles,
        any_role=any_role,
        client_roles=client_roles,
        scopes=scopes,
        acr=acr,
        introspect=introspect,
        whole_tree=whole_tree,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Authorized:
    """A caller whose route requirement held: who, in which live org scope, from where."""

    principal: Principal
    #: The live delegation binding of ``principal.subject`` (:func:`org_scope`).
    scope: OrgScope
    #: The client's address as an IP literal, or ``""`` (never free text from the request).
    source_ip: str
    acr_levels: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def meets(self, acr: str) -> bool:
        """Whether the caller's sign-in is at least ``acr`` (RFC 9470 §3), ordered as the
        edge orders it (:func:`acr_satisfies` with the configured levels)."""
        return acr_satisfies(self.principal.acr, acr, self.acr_levels)


class Guard(Protocol[T_co]):
    """``await guard(req, any_role, acr)``: the injected form of :meth:`Requirement.authorize`
    for packages that may not import ``iam``; raises the identity errors (401 with an RFC 9470
    challenge, 403, 503) or returns the package's own caller type."""

    def __call__(
        self, req: falcon.asgi.Request, any_role: frozenset[str], acr: str | None = None, /
    ) -> Awaitable[T_co]: ...


def guard(adapt: Callable[[Authorized], T]) -> Guard[T]:
    """The one authorization decision, handed to a package as a :class:`Guard`.

    ``adapt`` only translates the :class:`Authorized` caller into the package's actor type; it
    decides nothing, so every package gets the same roles, step-up, introspection and scope.
    """

    async def authorized(
        req: falcon.asgi.Request, any_role: frozenset[str], acr: str | None = None, /
    ) -> T:
        return adapt(await Requirement(any_role=any_role, acr=acr).authorize(req))

    return authorized


def client_ip(req: falcon.asgi.Request) -> str:
    """The peer's address as an IP literal, ``""`` when it is none (a unix socket, a test)."""
    try:
        return str(ipaddress.ip_address(req.remote_addr or ""))
    except ValueError:
        return ""


def check(
    principal: Principal | None, *, roles: frozenset[str], scopes: frozenset[str], acr: str | None
) -> Principal:
    """Framework-free authorization decision (kept for callers of the first version)."""
    return Requirement(roles=roles, scopes=scopes, acr=acr).check(principal)
