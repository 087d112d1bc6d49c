"""Who acts at the command line: the user of a verified access token, never free text.

Approvals, notes, triage, compliance runs, waivers and sign-offs are attributed to a person,
and four-eyes compares those persons (issue 16 §2.4). A name typed after ``--as`` or taken from
the OS login proves nothing, so every such command takes the person's own access token
(``--token`` or ``ANBAO_TOKEN``), checks it with the same :class:`~iam.tokens.TokenVerifier`
the API builds from the settings (issuer, audience, keys, expiry), checks the same roles as the
API route, resolves the same live org scope (:mod:`iam.scope`), and asks the issuer whether
the session behind the token is still alive (RFC 7662), as the API's high-risk routes do: a
person logged out or disabled acts no more, here either. The actor is the token's user; a
refused token exits 1, a missing one 2.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any

import click

from anbao.settings import Settings
from iam.errors import IamError
from iam.falcon_auth import Requirement
from iam.introspection import IntrospectionCache
from iam.model import Principal
from iam.scope import OrgScope, resolve_scope
from iam.tokens import TokenVerifier

_HELP = "Your access token (or ANBAO_TOKEN): the act is recorded under its user."


def token_option(fn: Any) -> Any:
    """The ``--token`` option of every command that acts as a person."""
    return click.option("--token", envvar="ANBAO_TOKEN", default=None, help=_HELP)(fn)


@dataclasses.dataclass(frozen=True, slots=True)
class Operator:
    """The authenticated person at the terminal and their live org scope."""

    principal: Principal
    scope: OrgScope

    @property
    def name(self) -> str:
        """The name acts are recorded under (the API records the same)."""
        return self.principal.username or self.principal.subject

    @property
    def subject(self) -> str:
        """Who the person is, whatever name a token gives: four-eyes compares this."""
        return self.principal.subject


def verifier(settings: Settings) -> TokenVerifier:
    """The API's verifier, built from the same settings (tests swap in a local issuer)."""
    from anbao.app import build_verifier  # noqa: PLC0415 - the app's one verifier factory

    return build_verifier(settings, time.time)


def introspection(settings: Settings) -> IntrospectionCache | None:
    """The API's introspection, from the same settings (None: not configured)."""
    from anbao.app import build_introspection  # noqa: PLC0415 - the app's one factory

    return build_introspection(settings, time.time)


def ensure_alive(settings: Settings, token: str, principal: Principal) -> None:
    """Raise unless the issuer reports the session active; refuse when nobody can be asked."""
    cache = introspection(settings)
    if cache is None:
        raise click.ClickException(
            "acts need token introspection: set keycloak.client_secret "
            "(ANBAO_KEYCLOAK_CLIENT_SECRET), as the API has it"
        )
    try:
        cache.ensure_active(token, principal)
    finally:
        cache.close()


def scope_of(settings: Settings, subject: str) -> OrgScope:
    """The live org scope of ``subject`` from the directory (tests swap in a memory one)."""
    from anbao.app import build_org_directory  # noqa: PLC0415

    directory = build_org_directory(settings)
    try:
        return resolve_scope(directory, subject)
    finally:
        directory.admin.close()


def authenticate(
    settings: Settings,
    token: str | None,
    any_role: Iterable[str],
    *,
    whole_tree: bool = False,
) -> Operator:
    """The operator behind ``token`` if it is valid and holds one of ``any_role``; else exit."""
    if not token:
        raise click.UsageError("this act is recorded under a person: pass --token or ANBAO_TOKEN")
    check = verifier(settings)
    try:
        principal = Requirement(any_role=frozenset(any_role)).check(check.verify(token))
        ensure_alive(settings, token, principal)
        scope = scope_of(settings, principal.subject)
    except IamError as exc:
        raise click.ClickException(f"{exc.detail} [{exc.code}]") from None
    finally:
        check.close()
    if whole_tree and not scope.whole_tree:
        raise click.ClickException("this covers the whole platform; your org binding does not")
    return Operator(principal, scope)
