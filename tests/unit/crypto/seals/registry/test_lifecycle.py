"""The seal lifecycle on a real SQLite database: states, roles, four eyes, CRL, audit."""

from __future__ import annotations

import dataclasses

import pytest

from crypto import sm3
from crypto.seals.ca import CaRole
from crypto.seals.format import Overall, verify_detached
from crypto.seals.registry.errors import (
    SealApplicationInvalid,
    SealForbidden,
    SealNotFound,
    SealStateConflict,
    SealStepUpRequired,
    SealUseRefused,
)
from crypto.seals.registry.model import SealRecord, SealState
from crypto.seals.tsa.verify import verify_token
from tests.unit.crypto.seals.registry.conftest import World


def made(w: World) -> SealRecord:
    service = w.registry.service
    record = service.apply(w.org_admin, w.application())
    service.approve(w.seal_admin, record.id)
    service.make(w.seal_admin, record.id)
    return service.activate(w.org_admin, record.id)


def test_full_lifecycle_and_audit(world: World) -> None:
    w, service = world, world.registry.service
    record = service.apply(w.org_admin, w.application())
    assert record.state is SealState.APPLIED
    with pytest.raises(SealForbidden, match="own application"):
        service.approve(dataclasses.replace(w.seal_admin, subject=w.org_admin.subject), record.id)
    assert service.approve(w.seal_admin, record.id).state is SealState.APPROVED
    with pytest.raises(SealStateConflict):
        service.approve(w.seal_admin2, record.id)
    made_record = service.make(w.seal_admin, record.id)
    assert made_record.state is SealState.MADE
    assert made_record.maker == "sa1"
    assert made_record.seal_der
    with pytest.raises(SealUseRefused, match="made, not active"):
        service.sign_document(w.holder, record.id, b"too early")
    service.activate(w.org_admin, record.id)

    document = b"%PDF- the contract"
    signature = service.sign_document(w.holder, record.id, document, "contract.pdf")
    signed_at = w.clock.now
    report = verify_detached(signature, document, w.registry.verification_options(signed_at))
    assert report.status is Overall.VALID, report.to_text()

    service.suspend(w.org_admin, record.id)
    with pytest.raises(SealUseRefused, match="suspended"):
        service.sign_document(w.holder, record.id, b"while suspended")
    service.resume(w.seal_admin, record.id)
    service.sign_document(w.holder, record.id, b"after resume")

    revoked_at = w.clock.advance(hours=1)
    revoked = service.revoke(w.seal_admin, record.id)
    assert revoked.state is SealState.REVOKED
    crl = w.registry.ca.crl(revoked_at)
    assert int(revoked.cert_serial, 16) in {r.serial_number for r in crl.revoked}
    with pytest.raises(SealUseRefused, match="revoked"):
        service.sign_document(w.holder, record.id, b"after revocation")
    # The signature made before the revocation still verifies at its signing time, with the
    # CRL that now lists the certificate.
    options = dataclasses.replace(w.registry.verification_options(signed_at), at=signed_at)
    assert w.registry.verification_options(revoked_at).trust.crls[-1].revoked
    before = verify_detached(
        signature,
        document,
        dataclasses.replace(options, trust=w.registry.verification_options(revoked_at).trust),
    )
    assert before.status is Overall.VALID, before.to_text()
    after = verify_detached(
        signature, document, w.registry.verification_options(w.clock.advance(minutes=1))
    )
    assert after.status is Overall.VALID, "judged at its (timestamped) signing time"
    with pytest.raises(SealStateConflict):
        service.resume(w.seal_admin, record.id)

    check_audit(w, document, signature)


def check_audit(w: World, document: bytes, signature: bytes) -> None:
    actions = w.audit.actions()
    assert actions[:2] == [("seal.apply", "success"), ("seal.approve", "failure")]
    assert ("seal.sign", "failure") in actions
    assert actions.count(("seal.sign", "success")) == 2
    assert actions[-2:] == [("seal.sign", "failure"), ("seal.resume", "failure")]
    success = next(e for e in w.audit.events if e.action == "seal.sign" and e.outcome == "success")
    assert success.document_sm3 == sm3.digest(document).hex()
    assert success.labels["signed_sm3"] == sm3.digest(signature).hex()
    refused = [e for e in w.audit.events if e.action == "seal.sign" and e.outcome == "failure"]
    assert refused[-1].reason == "seal_use_refused"
    assert refused[-1].document_sm3 == sm3.digest(b"after revocation").hex()


def test_signature_carries_a_verifiable_timestamp(world: World) -> None:
    w = world
    record = made(w)
    signature = w.registry.service.sign_document(w.holder, record.id, b"stamped")
    from crypto.seals.format import decode_signature

    decoded = decode_signature(signature)
    assert decoded.timestamp is not None
    info = verify_token(
        decoded.timestamp,
        trust_roots=w.registry.ca.trust_roots(),
        intermediates=w.registry.ca.intermediates(),
        data=decoded.signature,
    )
    assert info.gen_time == w.clock.now


def test_roles_and_subtrees(world: World) -> None:
    w, service = world, world.registry.service
    with pytest.raises(SealForbidden, match="not in your"):
        service.apply(w.other_org_admin, w.application())
    with pytest.raises(SealForbidden, match="org-admin"):
        service.apply(w.seal_admin, w.application())
    record = made(w)
    with pytest.raises(SealNotFound):
        service.show(w.other_org_admin, record.id)
    with pytest.raises(SealNotFound):
        service.suspend(w.other_org_admin, record.id)
    with pytest.raises(SealForbidden):
        service.approve(w.org_admin, record.id)
    with pytest.raises(SealNotFound):
        service.sign_document(w.stranger, record.id, b"not a holder")
    with pytest.raises(SealStepUpRequired):
        service.sign_document(dataclasses.replace(w.holder, stepped_up=False), record.id, b"x")
    with pytest.raises(SealForbidden, match="holder"):
        service.sign_document(w.org_admin, record.id, b"org admin is no holder")
    assert [r.id for r in service.list(w.holder)] == [record.id]
    assert [r.id for r in service.list(w.org_admin)] == [record.id]
    assert service.list(w.other_org_admin) == []
    assert service.list(w.stranger) == []
    assert [r.id for r in service.list(w.seal_admin, SealState.ACTIVE)] == [record.id]


def test_expiry_refuses_use(world: World) -> None:
    w, service = world, world.registry.service
    record = made(w)
    w.clock.advance(days=366)
    assert [r.state for r in service.list(w.seal_admin)] == [SealState.EXPIRED]
    assert service.list(w.seal_admin, SealState.ACTIVE) == []
    with pytest.raises(SealUseRefused, match="expired"):
        service.sign_document(w.holder, record.id, b"late")
    assert service.show(w.holder, record.id).state is SealState.EXPIRED
    assert ("seal.expire", "success") in w.audit.actions()
    with pytest.raises(SealStateConflict):
        service.resume(w.seal_admin, record.id)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"uscc": "91350100M000100Y44"}, "uscc"),
        ({"holders": ()}, "holders"),
        ({"picture": b"not an image"}, "picture"),
        ({"valid_days": 0}, "valid_days"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_applications(world: World, change: dict[str, object], field: str) -> None:
    with pytest.raises(SealApplicationInvalid, match=field):
        world.registry.service.apply(world.org_admin, world.application(**change))


def test_audit_failure_fails_the_action(world: World) -> None:
    w = world
    record = made(w)
    w.audit.fail = True
    with pytest.raises(RuntimeError):
        w.registry.service.sign_document(w.holder, record.id, b"unaudited")


def test_state_survives_a_new_process(world: World) -> None:
    w = world
    record = made(w)
    again = w.registry.repository.get(record.id)
    assert again == w.registry.service.show(w.seal_admin, record.id)
    assert w.registry.ca.entity(CaRole.ROOT).certificate.der
