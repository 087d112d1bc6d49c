"""The org tree (province down to village, and departments) and its people, under delegated admin.

A room of its own because it is the single authority on where a person sits and what an
administrator may reach (:class:`OrgScope`, ``resolve_scope``): every org-scoped decision in
the platform asks it, never a path string from a token or a body. Its parts: the model and its
placement rules, the :class:`OrgDirectory` port, the use cases (:class:`OrgService`),
delegation, identifier codes and bulk ``imports/``. Adapters are imported by module so that
importing the tree loads no HTTP client or web framework: ``iam.orgs.keycloak`` (the tree in
Keycloak groups), ``iam.admin.rest``, ``iam.orgs.resources`` (Falcon), ``iam.orgs.testing``.
"""

from iam.orgs.codes import uscc_check_char
from iam.orgs.delegation import ADMIN_ROLES, ORG_ADMIN, PLATFORM_ADMIN, PLATFORM_ROLES, Authority
from iam.orgs.errors import (
    DelegationDenied,
    ImportInvalid,
    InvalidOrgInput,
    OrgConflict,
    OrgError,
    OrgNotFound,
)
from iam.orgs.model import INVITATION_ATTRIBUTE, NodeKind, OrgNode, Person, PersonDraft
from iam.orgs.ports import OrgDirectory
from iam.orgs.scope import OrgScope, canonical_path, path_within, resolve_scope
from iam.orgs.service import OrgService

__all__ = [
    "ADMIN_ROLES",
    "INVITATION_ATTRIBUTE",
    "ORG_ADMIN",
    "PLATFORM_ADMIN",
    "PLATFORM_ROLES",
    "Authority",
    "DelegationDenied",
    "ImportInvalid",
    "InvalidOrgInput",
    "NodeKind",
    "OrgConflict",
    "OrgDirectory",
    "OrgError",
    "OrgNode",
    "OrgNotFound",
    "OrgScope",
    "OrgService",
    "Person",
    "PersonDraft",
    "canonical_path",
    "path_within",
    "resolve_scope",
    "uscc_check_char",
]
