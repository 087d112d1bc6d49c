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
