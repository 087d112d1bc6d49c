"""Errors of the org tree, people and delegated administration (codes are stable).

They extend :mod:`iam.errors` so the composition root's error table maps them: invalid input
400 (naming the field), unknown or invisible node/person 404, conflicts 409, and
:class:`DelegationDenied` (a :class:`~iam.errors.Forbidden`) 403.
"""

from __future__ import annotations

# The directory's own errors live in iam.errors: the one Keycloak admin client (iam.admin) raises
# them for every room that reads the directory, and must not depend on this room.
from iam.errors import Forbidden, InvalidOrgInput, OrgConflict, OrgError, OrgNotFound

__all__ = [
    "DelegationDenied",
    "ImportInvalid",
    "InvalidOrgInput",
    "OrgConflict",
    "OrgError",
    "OrgNotFound",
]


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
