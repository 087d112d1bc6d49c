"""Errors raised by the audit package; codes are stable, details client-safe."""

from __future__ import annotations


class AuditError(Exception):
    """Base class for audit failures."""

    code = "audit_error"
    title = "Audit operation failed"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)


class AuditStoreUnavailable(AuditError):
    """The audit store cannot be reached; events stay in the spool until it returns."""

    code = "audit_store_unavailable"
    title = "Audit store unavailable"


class AuditEventInvalid(AuditError):
    """An audit event or document breaks the schema (``audit.model``); detail names the field."""

    code = "audit_event_invalid"
    title = "Invalid audit event"


class AuditSpoolFull(AuditError):
    """The local spool reached its capacity and the backpressure policy says fail.

    Events are never dropped silently: the caller learns that the event was not recorded.
    """

    code = "audit_spool_full"
    title = "Audit spool full"


class AuditSpoolError(AuditError):
    """The local spool cannot be written (disk full, permissions, corruption)."""

    code = "audit_spool_error"
    title = "Audit spool unavailable"


class AuditConfigError(AuditError):
    """An audit setting is refused, e.g. retention below the legal minimum."""

    code = "audit_config_error"
    title = "Audit configuration refused"
