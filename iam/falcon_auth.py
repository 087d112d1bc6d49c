"""Falcon integration of the token verifier: deny by default, declare requirements per route.

Every resource needs a valid bearer token unless it sets ``auth_required = False``. Routes add
requirements with :func:`requires`; an ``acr`` below the requirement answers 401 with
``error="insufficient_user_authentication"`` and the ``acr_values`` to ask for (RFC 9470 §3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import falcon
import falcon.asgi

from iam.errors import Forbidden, InsufficientAuthentication, Unauthenticated
from iam.model import Principal
from iam.tokens import TokenVerifier


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


class AuthMiddleware:
    """Authenticates every request to a protected resource and puts the principal in context."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

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
        if self._verifier.needs_key_fetch(token):
            req.context.principal = await asyncio.to_thread(self._verifier.verify, token)
        else:
            req.context.principal = self._verifier.verify(token)


def acr_satisfies(actual: str, required: str) -> bool:
    """Keycloak's levels of assurance are numbers ("0", "1", "2"…); other values match exactly."""
    if actual.isdigit() and required.isdigit():
        return int(actual) >= int(required)
    return actual == required


def check(
    principal: Principal | None, *, roles: frozenset[str], scopes: frozenset[str], acr: str | None
) -> Principal:
    """Framework-free authorization decision shared by the hook and other callers."""
    if principal is None:
        raise Unauthenticated("A bearer token is required.", bearer_error="")
    if acr is not None and not acr_satisfies(principal.acr, acr):
        raise InsufficientAuthentication((acr,), "This operation needs a stronger sign-in.")
    if not roles <= principal.roles:
        raise Forbidden("A required role is missing.")
    if not scopes <= principal.scopes:
        raise Forbidden("A required scope is missing.")
    return principal


def requires(
    *, roles: Iterable[str] = (), scopes: Iterable[str] = (), acr: str | None = None
) -> Callable[..., Any]:
    """A Falcon ``before`` hook: ``@falcon.before(requires(roles=["auditor"]))``."""
    role_set, scope_set = frozenset(roles), frozenset(scopes)

    async def hook(
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        resource: object,
        params: dict[str, Any],
    ) -> None:
        del resp, resource, params
        check(getattr(req.context, "principal", None), roles=role_set, scopes=scope_set, acr=acr)

    return hook
