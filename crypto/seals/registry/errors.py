"""Errors of the seal registry: stable codes, client-safe details, no HTTP status."""

from __future__ import annotations

from crypto.seals.format.errors import SealError


class SealRegistryError(SealError):
    """Base class of seal lifecycle errors."""

    code = "seal_registry_error"
    title = "Seal registry operation failed"


class SealNotFound(SealRegistryError):
    """No seal with that id, or none the caller may see (never tells which)."""

    code = "seal_not_found"
    title = "Seal not found"


class SealForbidden(SealRegistryError):
    """The caller's roles or organisation do not allow this operation on this seal."""

    code = "seal_forbidden"
    title = "Not allowed for this seal"


class SealStepUpRequired(SealRegistryError):
    """Applying a seal needs a step-up sign-in (acr)."""

    code = "seal_step_up_required"
    title = "Stronger sign-in required to apply a seal"
    #: RFC 9470 §3 challenge: the HTTP layer asks the client for this acr.
    bearer_error = "insufficient_user_authentication"
    acr_values: tuple[str, ...] = ("2",)


class SealStateConflict(SealRegistryError):
    """The transition is not allowed from the seal's current state (or it changed meanwhile)."""

    code = "seal_state_conflict"
    title = "Seal state does not allow this"


class SealUseRefused(SealRegistryError):
    """Signing with a seal that is not active: suspended, revoked, expired or not yet made."""

    code = "seal_use_refused"
    title = "Seal may not be applied"


class SealApplicationInvalid(SealRegistryError):
    """An application or request body is incomplete or invalid; the detail names the field."""

    code = "seal_application_invalid"
    title = "Invalid seal application"


class SealDatabaseError(SealRegistryError):
    """The registry database is unavailable or not migrated."""

    code = "seal_database_unavailable"
    title = "Seal registry database unavailable"
