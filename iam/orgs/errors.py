"""Errors of the org tree, people and delegated administration (codes are stable).

They extend :mod:`iam.errors` so the composition root's error table maps them: invalid input
400 (naming the field), unknown or invisible node/person 404, conflicts 409, and
:class:`DelegationDenied` (a :class:`~iam.errors.Forbidden`) 403.
"""

from __future__ import annotations

from iam.errors import Forbidden, IamError


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


class DelegationDenied(Forbidden):
    """Authenticated, but delegated administration does not allow this operation."""

    code = "delegation_denied"
    title = "Not allowed by delegated administration"


class ImportInvalid(OrgError):
    """An import file has problems; nothing was written. ``findings`` lists them all."""

    code = "import_invalid"
    title = "The import file has problems"

    def __init__(self, findings: list[dict[str, object]], limit: int = 500) -> None:
        super().__init__(f"{len(findings)} problem(s); nothing was imported.")
        self.findings = findings
        self.problem_extra = {"findings": findings[:limit], "total": len(findings)}
