"""Seal lifecycle use cases: apply, approve, make, activate, suspend, resume, revoke, sign.

Who may do what (issue 6 §3, roles from the identity provider): an ``org-admin`` applies for
an organisation in its own subtree and may activate, suspend, resume and revoke its seals —
the subtree is the caller's live binding (``Actor.scope``, resolved by the identity authority
for each request), the organisation a node of the live tree (:class:`~.ports.OrgTree`),
compared by node id, never by a path from the token or the body; a ``seal-admin`` approves (never their own application: four eyes) and makes
seals, and may do every later transition; a ``seal-user`` listed as a holder applies the seal,
only after a step-up sign-in. Signing with a seal that is not active (suspended, revoked,
expired, not yet made) is refused. Every transition and every use, allowed or refused, goes to
the :class:`~.ports.AuditTrail` with the document's SM3 hash; if the trail cannot record, the
action fails (fail closed).
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypedDict, TypeVar

from crypto import sm3
from crypto.keystore_ports import KeyStore
from crypto.pki import Certificate, RevocationReason, SigningKey
from crypto.seals.ca import CaRole, SealCa
from crypto.seals.format import Seal, StampPosition, decode_seal, make_seal, sign_bytes, sign_ofd
from crypto.seals.format.errors import SealError
from crypto.seals.format.picture import make_picture
from crypto.seals.format.sign import Timestamper
from crypto.seals.registry.errors import (
    SealForbidden,
    SealNotFound,
    SealRegistryError,
    SealStateConflict,
    SealStepUpRequired,
    SealUseRefused,
)
from crypto.seals.registry.model import (
    ORG_ADMIN,
    SEAL_ADMIN,
    SEAL_USER,
    TRANSITIONS,
    Actor,
    Application,
    OrgUnit,
    SealEvent,
    SealRecord,
    SealState,
)
from crypto.seals.registry.ports import AuditTrail, OrgTree, SealRepository
from crypto.seals.registry.rules import check_application, check_identity, node_ref

T = TypeVar("T")


class _SigningParts(TypedDict):
    seal: Seal
    key: SigningKey
    cert: Certificate
    timestamper: Timestamper | None


_LIVE = frozenset({SealState.MADE, SealState.ACTIVE, SealState.SUSPENDED})


def _effective(record: SealRecord, now: datetime) -> SealRecord:
    """How a record reads at ``now``: live seals past validEnd show as expired (not stored)."""
    if record.state in _LIVE and record.valid_end is not None and now > record.valid_end:
        return dataclasses.replace(record, state=SealState.EXPIRED)
    return record


@functools.lru_cache(maxsize=256)
def _decoded(seal_der: bytes, cert_der: bytes) -> tuple[Seal, Certificate]:
    """Parsed seal and holder certificate, by their exact bytes (immutable once made)."""
    return decode_seal(seal_der), Certificate.load(cert_der)


def _new_id() -> str:
    return uuid.uuid4().hex


class SealService:
    """The registry's use cases; framework-free, clock and ids injected."""

    def __init__(
        self,
        repo: SealRepository,
        ca: SealCa,
        keys: KeyStore,
        audit: AuditTrail,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] = _new_id,
        timestamper: Timestamper | None = None,
        orgs: OrgTree | None = None,
    ) -> None:
        """``orgs``: the live org tree; without it no org-admin reaches any seal (deny)."""
        self._orgs = orgs
        self._repo = repo
        self._ca = ca
        self._keys = keys
        self._audit = audit
        self._clock = clock
        self._new_id = new_id
        self._timestamper = timestamper

    # -- queries -----------------------------------------------------------------------------

    def show(self, actor: Actor, seal_id: str) -> SealRecord:
        """One seal the actor may see (else SealNotFound, whether it exists or not).

        A live seal past its validEnd is marked expired now (and audited), not at some sweep.
        """
        return self._expire_if_due(self._visible(actor, seal_id), self._clock())

    def list(self, actor: Actor, state: SealState | None = None) -> Sequence[SealRecord]:
        """Seals the actor may see: all for seal admins, the subtree for org admins, held ones."""
        now = self._clock()
        records = (_effective(r, now) for r in self._find(actor, state))
        return [r for r in records if state is None or r.state is state]

    def _find(self, actor: Actor, state: SealState | None) -> Sequence[SealRecord]:
        if SEAL_ADMIN in actor.roles:
            return self._repo.find(state=state)
        found: dict[str, SealRecord] = {}
        if ORG_ADMIN in actor.roles and actor.scope.filter_path:
            units: dict[str, OrgUnit | None] = {}  # one directory read per node, per call
            candidates = self._repo.find(org_prefix=actor.scope.filter_path, state=state)
            found |= {r.id: r for r in candidates if self._in_scope(actor, r, units)}
        if SEAL_USER in actor.roles:
            for record in self._repo.find(state=state, limit=1000):
                if actor.username in record.application.holders:
                    found[record.id] = record
        return sorted(found.values(), key=lambda r: r.created_at, reverse=True)

    # -- transitions -------------------------------------------------------------------------

    def apply(self, actor: Actor, application: Application) -> SealRecord:
        """An org admin applies for a seal of an organisation in its subtree."""

        def run() -> SealRecord:
            if ORG_ADMIN not in actor.roles:
                raise SealForbidden("applying for a seal needs the org-admin role")
            unit = self._unit(node_ref(application))
            if unit is None or unit.disabled or not actor.scope.covers(unit.id, unit.path):
                raise SealForbidden("the organisation is not in your administrative subtree")
            check_identity(application, unit)
            resolved = dataclasses.replace(application, org_node_id=unit.id, org_path=unit.path)
            check_application(resolved)
            now = self._clock()
            seal_id = self._new_id()
            record = SealRecord(
                id=seal_id,
                es_id=f"{application.uscc}{seal_id[:12].upper()}",
                state=SealState.APPLIED,
                application=resolved,
                applicant=actor.subject,
                applicant_name=actor.username,
                created_at=now,
                updated_at=now,
            )
            self._repo.add(record)
            return record

        # A refusal is filed under the caller's own organisation, never a path the body chose.
        return self._audited("seal.apply", actor, "", "", run)

    def approve(self, actor: Actor, seal_id: str) -> SealRecord:
        """A seal admin other than the applicant approves."""

        def change(record: SealRecord, now: datetime) -> SealRecord:
            if record.applicant == actor.subject:
                raise SealForbidden("the applicant may not approve their own application")
            return record.evolve(state=SealState.APPROVED, approver=actor.subject, updated_at=now)

        return self._transition("approve", actor, seal_id, change, (SEAL_ADMIN,))

    def make(self, actor: Actor, seal_id: str) -> SealRecord:
        """Generate the seal's key, issue its holder certificate, build and maker-sign SESeal."""
        return self._transition(
            "make", actor, seal_id, lambda rec, now: self._make(rec, now, actor), (SEAL_ADMIN,)
        )

    def activate(self, actor: Actor, seal_id: str) -> SealRecord:
        """Put a made seal into use."""
        return self._simple("activate", actor, seal_id)

    def suspend(self, actor: Actor, seal_id: str) -> SealRecord:
        """Stop use for now (reversible)."""
        return self._simple("suspend", actor, seal_id)

    def resume(self, actor: Actor, seal_id: str) -> SealRecord:
        """Back in use after a suspension."""
        return self._simple("resume", actor, seal_id)

    def revoke(
        self,
        actor: Actor,
        seal_id: str,
        reason: RevocationReason = RevocationReason.CESSATION_OF_OPERATION,
    ) -> SealRecord:
        """End the seal for good; its certificate goes on the CRL in the same call."""

        def change(record: SealRecord, now: datetime) -> SealRecord:
            if record.cert_serial:
                self._ca.revoke(int(record.cert_serial, 16), now=now, reason=reason)
            return record.evolve(
                state=SealState.REVOKED,
                revoked_at=now,
                revocation_reason=reason.value,
                updated_at=now,
            )

        return self._transition("revoke", actor, seal_id, change, (SEAL_ADMIN, ORG_ADMIN))

    # -- use ---------------------------------------------------------------------------------

    def sign_document(
        self, actor: Actor, seal_id: str, document: bytes, property_info: str = "document"
    ) -> bytes:
        """Detached SES_Signature over ``document`` (GB/T 38540 §8.2)."""
        return self._use(
            actor,
            seal_id,
            document,
            lambda rec, now: sign_bytes(
                document, property_info=property_info, now=now, **self._signing(rec)
            ),
        )

    def sign_ofd(
        self, actor: Actor, seal_id: str, package: bytes, position: StampPosition | None = None
    ) -> bytes:
        """The OFD package with one more Seal signature (GB/T 38540 §9)."""
        return self._use(
            actor,
            seal_id,
            package,
            lambda rec, now: sign_ofd(package, position=position, now=now, **self._signing(rec)),
        )

    # -- internals ---------------------------------------------------------------------------

    def _signing(self, record: SealRecord) -> _SigningParts:
        seal, cert = _decoded(record.seal_der, record.cert_der)
        return {
            "seal": seal,
            "key": self._keys.signer(record.key_id),
            "cert": cert,
            "timestamper": self._timestamper,
        }

    def _use(
        self,
        actor: Actor,
        seal_id: str,
        document: bytes,
        sign: Callable[[SealRecord, datetime], bytes],
    ) -> bytes:
        digest = sm3.digest(document).hex()
        seen: list[SealRecord] = []

        def run() -> bytes:
            record = self._visible(actor, seal_id)
            seen.append(record)
            if SEAL_USER not in actor.roles or actor.username not in record.application.holders:
                raise SealForbidden("only a seal-user listed as holder may apply this seal")
            if not actor.stepped_up:
                raise SealStepUpRequired("applying a seal needs a step-up sign-in")
            now = self._clock()
            record = self._expire_if_due(record, now)
            if record.state is not SealState.ACTIVE:
                raise SealUseRefused(f"the seal is {record.state.value}, not active")
            seen.append(record)
            return sign(record, now)

        return self._audited("seal.sign", actor, seal_id, "", run, document_sm3=digest, seen=seen)

    def _make(self, record: SealRecord, now: datetime, actor: Actor) -> SealRecord:
        app = record.application
        ref = self._keys.generate(f"seal-{record.id}")
        cert = self._ca.issue_holder(
            organization=app.org_name,
            uscc=app.uscc,
            public_key=ref.public_key,
            now=now,
            days=app.valid_days,
            common_name=app.name[:64],
        )
        maker = self._ca.entity(CaRole.MAKER)
        seal = make_seal(
            maker_key=self._keys.signer(maker.key_id),
            maker_cert=maker.certificate,
            holder_certs=[cert],
            name=app.name,
            es_id=record.es_id,
            picture=make_picture(
                app.picture, app.width_mm, app.height_mm, app.picture_type or None
            ),
            valid_start=now,
            valid_end=cert.not_after,
            now=now,
        )
        return record.evolve(
            state=SealState.MADE,
            maker=actor.subject,
            key_id=ref.key_id,
            cert_serial=format(cert.serial_number, "x"),
            cert_der=cert.der,
            seal_der=seal.der,
            valid_start=now,
            valid_end=cert.not_after,
            updated_at=now,
        )

    def _simple(self, action: str, actor: Actor, seal_id: str) -> SealRecord:
        target = TRANSITIONS[action][1]

        def change(record: SealRecord, now: datetime) -> SealRecord:
            return record.evolve(state=target, updated_at=now)

        return self._transition(action, actor, seal_id, change, (SEAL_ADMIN, ORG_ADMIN))

    def _transition(
        self,
        action: str,
        actor: Actor,
        seal_id: str,
        change: Callable[[SealRecord, datetime], SealRecord],
        roles: tuple[str, ...],
    ) -> SealRecord:
        sources, _ = TRANSITIONS[action]

        def run() -> SealRecord:
            record = self._visible(actor, seal_id)
            if not self._may_administer(actor, record, roles):
                raise SealForbidden(f"{action} needs one of the roles {', '.join(roles)}")
            now = self._clock()
            if action != "revoke":
                record = self._expire_if_due(record, now)
            if record.state not in sources:
                raise SealStateConflict(f"cannot {action} a seal that is {record.state.value}")
            updated = change(record, now)
            self._repo.replace(updated, expected_version=record.version)
            return updated

        return self._audited(f"seal.{action}", actor, seal_id, "", run)

    def _may_administer(self, actor: Actor, record: SealRecord, roles: tuple[str, ...]) -> bool:
        if SEAL_ADMIN in roles and SEAL_ADMIN in actor.roles:
            return True
        return ORG_ADMIN in roles and ORG_ADMIN in actor.roles and self._in_scope(actor, record)

    def _visible(self, actor: Actor, seal_id: str) -> SealRecord:
        record = self._repo.get(seal_id)
        if record is None or not self._can_see(actor, record):
            raise SealNotFound("no such seal")
        return record

    def _can_see(self, actor: Actor, record: SealRecord) -> bool:
        if SEAL_ADMIN in actor.roles:
            return True
        if ORG_ADMIN in actor.roles and self._in_scope(actor, record):
            return True
        return SEAL_USER in actor.roles and actor.username in record.application.holders

    def _unit(self, ref: str) -> OrgUnit | None:
        return self._orgs.node(ref) if self._orgs is not None and ref else None

    def _in_scope(
        self, actor: Actor, record: SealRecord, units: dict[str, OrgUnit | None] | None = None
    ) -> bool:
        """The seal's node, read live by its id, lies in the actor's live scope."""
        node_id = record.application.org_node_id
        if not node_id:
            return False  # an application from before node ids: seal admins only
        if units is not None and node_id in units:
            unit = units[node_id]
        else:
            unit = self._unit(node_id)
            if units is not None:
                units[node_id] = unit
        return unit is not None and actor.scope.covers(unit.id, unit.path)

    def _expire_if_due(self, record: SealRecord, now: datetime) -> SealRecord:
        """Past validEnd, a live seal becomes expired (stored, and audited once)."""
        if record.state not in _LIVE or record.valid_end is None or now <= record.valid_end:
            return record
        expired = record.evolve(state=SealState.EXPIRED, updated_at=now)
        self._repo.replace(expired, expected_version=record.version)
        self._emit("seal.expire", "success", expired, None)
        return expired

    def _emit(
        self, action: str, outcome: str, record: SealRecord, actor: Actor | None, **extra: str
    ) -> None:
        system = Actor(subject="system", username="system", roles=frozenset(), org_path="")
        self._audit.record(
            SealEvent(
                action=action,
                outcome=outcome,
                seal_id=record.id,
                actor=actor or system,
                org_path=record.application.org_path,
                labels={"state": record.state.value, "es_id": record.es_id},
                **extra,
            )
        )

    def _audited(  # noqa: PLR0917 - private; the call sites read clearly
        self,
        action: str,
        actor: Actor,
        seal_id: str,
        org_path: str,
        run: Callable[[], T],
        document_sm3: str = "",
        seen: Sequence[SealRecord] = (),
    ) -> T:
        """Run ``run``; record success or the refusal's code; refusals are re-raised."""
        try:
            result = run()
        except SealRegistryError as exc:
            self._refused(action, actor, seal_id, org_path, exc.code, document_sm3)
            raise
        except SealError as exc:
            self._refused(action, actor, seal_id, org_path, exc.code, document_sm3)
            raise SealUseRefused(exc.detail) from exc
        record = (
            result
            if isinstance(result, SealRecord)
            else (seen[-1] if seen else self._repo.get(seal_id))
        )
        if record is None:
            raise SealNotFound("no such seal")
        labels = {"state": record.state.value, "es_id": record.es_id}
        if isinstance(result, bytes):
            labels["signed_sm3"] = sm3.digest(result).hex()
        self._audit.record(
            SealEvent(
                action=action,
                outcome="success",
                seal_id=record.id,
                actor=actor,
                org_path=record.application.org_path,
                document_sm3=document_sm3,
                labels=labels,
            )
        )
        return result

    def _refused(  # noqa: PLR0917 - private
        self, action: str, actor: Actor, seal_id: str, org_path: str, code: str, digest: str
    ) -> None:
        self._audit.record(
            SealEvent(
                action=action,
                outcome="failure",
                seal_id=seal_id,
                actor=actor,
                org_path=org_path or actor.org_path,
                reason=code,
                document_sm3=digest,
            )
        )
