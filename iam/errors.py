"""Errors raised by the iam package.

Codes are stable; details are client-safe (never a token, a claim value from an unverified
token, or raw Keycloak text).
"""

from __future__ import annotations


class IamError(Exception):
    """Base class for identity and access errors."""

    code = "iam_error"
    title = "Identity request failed"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)


class Unauthenticated(IamError):
    """No usable credentials: missing, malformed, expired or untrusted token (RFC 6750 §3.1)."""

    code = "unauthenticated"
    title = "Authentication required"
    #: RFC 6750 error code for the ``WWW-Authenticate`` challenge; empty when no token was sent.
    bearer_error = "invalid_token"

    def __init__(self, detail: str | None = None, *, bearer_error: str | None = None) -> None:
        super().__init__(detail)
        if bearer_error is not None:
            self.bearer_error = bearer_error


class InsufficientAuthentication(Unauthenticated):
    """The token's ``acr`` is below what the route needs (RFC 9470 §3)."""

    code = "insufficient_user_authentication"
    title = "Stronger authentication required"
    bearer_error = "insufficient_user_authentication"

    def __init__(self, acr_values: tuple[str, ...], detail: str | None = None) -> None:
        super().__init__(detail)
        self.acr_values = acr_values
        self.problem_extra = {"acr_values": list(acr_values)}


class Forbidden(IamError):
    """Authenticated, but the principal lacks a role or scope the operation needs."""

    code = "forbidden"
    title = "Not allowed"


class IdentityProviderUnavailable(IamError):
    """Keycloak (JWKS, introspection, admin API) could not be reached."""

    code = "identity_provider_unavailable"
    title = "Identity provider unavailable"


class InvalidRequest(IamError):
    """A request field is missing or invalid; the problem document names every bad field.

    ``errors`` is a list of ``{"field": ..., "reason": ...}`` (field paths like
    ``redirect_uris[1]``), also exposed in the problem body as ``errors`` and ``field`` (the first).
    """

    code = "invalid_request"
    title = "Invalid request"

    def __init__(self, errors: list[tuple[str, str]], detail: str | None = None) -> None:
        if not errors:
            raise ValueError("InvalidRequest needs at least one (field, reason)")
        field, reason = errors[0]
        super().__init__(detail or f"{field}: {reason}")
        self.field = field
        self.errors = [{"field": f, "reason": r} for f, r in errors]
        self.problem_extra = {"field": field, "errors": self.errors}


class NotFound(IamError):
    """The named identity object does not exist, or the caller may not know it does."""

    code = "not_found"
    title = "Not found"


class Conflict(IamError):
    """The object already exists or changed concurrently."""

    code = "conflict"
    title = "Conflict"


class PersonNotFound(NotFound):
    """No such person, or one outside the caller's part of the org tree (indistinguishable)."""

    code = "person_not_found"
    title = "No such person"


class AppRoleNotFound(NotFound):
    """The app defines no role of that name, or the person does not hold it."""

    code = "app_role_not_found"
    title = "No such app role"


class AppNotOwned(Forbidden):
    """The caller sees the app (an org-admin) but changing it is for its owner."""

    code = "app_not_owned"
    title = "Not your app"


class RoleGrantDenied(Forbidden):
    """The grant or revocation breaks a rule of who may give whom which role."""

    code = "role_grant_denied"
    title = "Role change not allowed"


class SelfGrantDenied(Forbidden):
    """Nobody grants or revokes their own roles (the code is the audit event's reason)."""

    code = "role_self_grant"
    title = "Role change of oneself"


class OrgError(IamError):
    code = "org_error"
    title = "Org tree request failed"


class InvalidOrgInput(OrgError):
    """A field breaks a rule; ``field`` names it (also in the problem document)."""

    code = "invalid_org_input"
    title = "Invalid org tree input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.problem_extra = {"field": field}


class OrgNotFound(OrgError):
    """No such node or person, or one outside the caller's subtree (indistinguishable)."""

    code = "org_not_found"
    title = "Not found"


class OrgConflict(OrgError):
    """The change collides with existing state (duplicate code/username, cycle, disabled)."""

    code = "org_conflict"
    title = "Conflict"
