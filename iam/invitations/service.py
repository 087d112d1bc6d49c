"""Use cases of giving people credentials: invite, resend, revoke, activate, bootstrap.

Every org-scoped decision goes through :class:`iam.orgs.service.OrgService` (delegated
administration from the live binding): an org-admin invites, resends and revokes only inside
their subtree. Credentials go out by Keycloak's execute-actions e-mail where the realm has
SMTP and the person an address, else as a one-time activation link shown once to the admin.
Either way the person chooses their own password at first sign-in (``UPDATE_PASSWORD``) and
administrators enrol OTP (``CONFIGURE_TOTP``). Each act is audited; a failing audit fails it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence

from iam.invitations.errors import (
    ActivationExpired,
    ActivationInvalid,
    AdminExists,
    AlreadyActivated,
)
from iam.invitations.model import (
    DEFAULT_LIFESPAN_SECONDS,
    OTP_MARKER_ROLE,
    Credentials,
    Delivery,
    Invitation,
    PendingLink,
    digest,
    make_token,
    parse_token,
    required_actions,
    temporary_password,
)
from iam.invitations.ports import Accounts, AuditActor, InvitationAudit
from iam.orgs.delegation import ADMIN_ROLES, PLATFORM_ADMIN
from iam.orgs.model import OrgNode, Person, PersonDraft
from iam.orgs.ports import OrgDirectory
from iam.orgs.service import OrgService

#: The actor of ``anbao iam bootstrap`` in the audit trail (an operator command, no person).
BOOTSTRAP_ACTOR = AuditActor("", "operator:anbao iam bootstrap")


def _actions(person: Person) -> list[str]:
    """The realm's marker decides; the platform's administrative roles count too, so a realm
    that lost the composite still makes administrators enrol OTP."""
    roles = set(person.roles)
    if roles & ADMIN_ROLES:
        roles.add(OTP_MARKER_ROLE)
    return required_actions(roles)


class InvitationService:
    def __init__(
        self,
        orgs: OrgService,
        accounts: Accounts,
        audit: InvitationAudit,
        *,
        clock: Callable[[], float],
        new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
        randbelow: Callable[[int], int] = secrets.randbelow,
        lifespan_seconds: int = DEFAULT_LIFESPAN_SECONDS,
    ) -> None:
        self.orgs = orgs
        self.accounts = accounts
        self.audit = audit
        self._clock = clock
        self._new_secret = new_secret
        self._randbelow = randbelow
        self.lifespan_seconds = lifespan_seconds
        #: One activation at a time in this process: a link double-clicked is consumed once.
        self._activating = threading.Lock()

    @property
    def directory(self) -> OrgDirectory:
        return self.orgs.directory

    # -- the admin's side --------------------------------------------------------------------
    def invite(
        self,
        actor: AuditActor,
        draft: PersonDraft,
        membership_ids: Sequence[str],
        *,
        role: str | None = None,
        node_id: str | None = None,
    ) -> Invitation:
        """Creates the person (in the actor's subtree), grants ``role`` (bound to ``node_id``)
        and sends credentials. The grant is checked before anyone is created."""
        if role:
            self.orgs.check_grant(actor.subject, role, node_id)
        person = self.orgs.create_person(actor.subject, draft, membership_ids)
        if role:
            person = self.orgs.grant_role(actor.subject, person.id, role, node_id)
        invitation = self._deliver(person)
        labels = {"delivery": str(invitation.delivery)}
        if role:
            labels["role"] = role
        self.audit.record("iam.person.invite", actor, person, labels)
        return invitation

    def resend(self, actor: AuditActor, person_id: str) -> Invitation:
        """New credentials for a person who has not activated: a new link (the old one stops
        working) or the e-mail again. Also how a person made without credentials is invited."""
        person = self._pending(actor, person_id)
        invitation = self._deliver(person)
        self.audit.record(
            "iam.person.invite_resend", actor, person, {"delivery": str(invitation.delivery)}
        )
        return invitation

    def invite_imported(
        self, actor_id: str, actor_name: str, usernames: Sequence[str], link_base: str
    ) -> list[dict[str, object]]:
        """Credentials for the people of an import marked ``invite`` who have not activated yet
        (a re-posted file sends new links: the old ones stop working). The links are shown
        once, in the answer (:class:`iam.orgs.imports.service.Inviter`)."""
        actor = AuditActor(actor_id, actor_name)
        out = []
        for username in usernames:
            person = self.directory.find_person(username)
            if person is None or self.accounts.has_password(person.id):
                continue
            out.append(self.resend(actor, person.id).as_json(link_base))
        return out

    def revoke(self, actor: AuditActor, person_id: str) -> Person:
        """Ends a pending invitation: the link stops working and the account is disabled."""
        person = self._pending(actor, person_id)
        self.accounts.set_pending_link(person.id, None)
        self.accounts.disable(person.id)
        self.audit.record("iam.person.invite_revoke", actor, person, {})
        return self.orgs.person(actor.subject, person.id)

    def _pending(self, actor: AuditActor, person_id: str) -> Person:
        person = self.orgs.manageable_person(actor.subject, person_id)
        if self.accounts.has_password(person.id):
            raise AlreadyActivated("The person has set a password; the invitation is over.")
        return person

    def _deliver(self, person: Person) -> Invitation:
        actions = _actions(person)
        expires = int(self._clock()) + self.lifespan_seconds
        if person.email and self.accounts.smtp_configured():
            self.accounts.set_pending_link(person.id, None)
            self.accounts.set_required_actions(person.id, actions)
            self.accounts.send_actions_email(person.id, actions, self.lifespan_seconds)
            return Invitation(person.id, person.username, Delivery.EMAIL, expires)
        secret = self._new_secret()
        self.accounts.set_pending_link(person.id, PendingLink(digest(secret), expires))
        token = make_token(person.id, secret)
        return Invitation(person.id, person.username, Delivery.LINK, expires, token)

    # -- the invited person's side (public, no token) ----------------------------------------
    def check(self, token: str) -> Person:
        """The person a valid, unexpired link belongs to (consumes nothing: link previews and
        the page's GET must not use it up)."""
        person_id, secret = parse_token(token)
        person = self.directory.get_person(person_id)
        link = self.accounts.pending_link(person_id) if person is not None else None
        if person is None or link is None or not person.enabled or not link.matches(secret):
            raise ActivationInvalid("This activation link is not valid or was used already.")
        if self._clock() >= link.expires_at:
            raise ActivationExpired("This activation link has expired; ask for a new one.")
        return person

    def activate(self, token: str) -> Credentials:
        """Consumes the link once: a random temporary password, shown once; Keycloak then
        makes the person choose their own (and enrol OTP if an administrator)."""
        with self._activating:
            person = self.check(token)
            self.accounts.set_pending_link(person.id, None)
        password = temporary_password(self._randbelow)
        actions = _actions(person)
        self.accounts.set_password(person.id, password, temporary=True)
        self.accounts.set_required_actions(person.id, actions)
        self.audit.record("iam.person.activate", AuditActor(person.id, person.username), person, {})
        return Credentials(person.id, person.username, password, True, tuple(actions))


def provision(
    directory: OrgDirectory,
    accounts: Accounts,
    draft: PersonDraft,
    nodes: Sequence[OrgNode] = (),
    *,
    roles: Sequence[str] = (),
    bind: OrgNode | None = None,
    password: str | None = None,
    temporary: bool = True,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> Credentials:
    """A person with credentials, made with operator rights (no delegation check): for the
    operator's bootstrap and development demo data. ``password`` None: a random one.
    A temporary password makes Keycloak ask for a new one; administrators enrol OTP."""
    draft.validate()
    person = directory.create_person(draft, list(nodes))
    for role in roles:
        directory.grant_role(person, role)
    if bind is not None:
        directory.set_admin_node(person, bind)
    person = directory.get_person(person.id) or person
    secret = password or temporary_password(randbelow)
    accounts.set_password(person.id, secret, temporary=temporary)
    actions = _actions(person) if temporary else []
    accounts.set_required_actions(person.id, actions)
    return Credentials(person.id, person.username, secret, temporary, tuple(actions))


def bootstrap(
    directory: OrgDirectory,
    accounts: Accounts,
    audit: InvitationAudit,
    draft: PersonDraft,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> Credentials:
    """The first platform-admin, once: refused when one exists. A one-time password, changed
    at first sign-in, with OTP enrolment (the same command in development and production)."""
    if accounts.role_holders(PLATFORM_ADMIN):
        raise AdminExists("A platform-admin exists already; bootstrap runs only once.")
    made = provision(directory, accounts, draft, roles=[PLATFORM_ADMIN], randbelow=randbelow)
    person = directory.get_person(made.person_id)
    if person is not None:
        audit.record("iam.bootstrap", BOOTSTRAP_ACTOR, person, {"role": PLATFORM_ADMIN})
    return made
