"""Token verification: who is calling, proven from a Keycloak access token (RFC 9068, RFC 7662).

A room of its own because every other package may depend on it and on nothing else of ``iam``:
a resource needs the caller's :class:`Principal`, not the org tree or realm-as-code. The core
(the verifier, introspection cache and principal) imports no web framework; the Falcon edge
(``iam.tokens.falcon``: ``requires``, ``Requirement``, ``AuthMiddleware``, ``org_scope``) and
the Keycloak adapters (``iam.tokens.keycloak``) are imported by their module, as authlib keeps
its integrations apart from the protocol core, so importing this package loads neither.
"""

from iam.tokens.introspection import IntrospectionCache, Introspector
from iam.tokens.model import Principal
from iam.tokens.verifier import JwksSource, TokenVerifier, principal_from_claims

__all__ = [
    "IntrospectionCache",
    "Introspector",
    "JwksSource",
    "Principal",
    "TokenVerifier",
    "principal_from_claims",
]
