"""Runs, control status, waivers (four eyes, expiry), history, and the SM2 sign-off."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crypto import keys
from crypto.sm2 import PrivateKey
from policies.catalogue.load import load_catalogue
from policies.errors import (
    AlreadySigned,
    InvalidRequest,
    ReportSignatureInvalid,
    SigningUnavailable,
    WaiverNotFound,
    WaiverSelfApproval,
    WaiverStateConflict,
)
from policies.model import Officer, Status, WaiverState
from policies.ports import Inspectors, RunStore
from policies.reports.signing import Sm2ReportSigner, verify_report
from policies.runs.service import ComplianceService
from policies.runs.store import SqlRunStore
from policies.testing import (
    T0,
    MemoryRunStore,
    MemoryWaiverAudit,
    Static,
    dev_settings,
    good_audit,
    good_realm,
    siem,
)


def _o(name: str) -> Officer:
    """An officer as a verified token gives one: the subject differs from the name."""
    return Officer(name, f"sub-{name}" if name else "")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _service(
    store: RunStore,
    clock: Clock,
    realm: Static,
    signer: Sm2ReportSigner | None = None,
    audit: Static | None = None,
    *,
    waiver_audit: MemoryWaiverAudit | None = None,
) -> ComplianceService:
    ids = itertools.count(1)
    inspectors = Inspectors(realm=realm, audit=audit or Static(good_audit()), crypto=None,
                            siem=Static(siem()), settings=Static(dev_settings()))  # fmt: skip
    return ComplianceService(load_catalogue(), inspectors, store, clock=clock,
                             new_id=lambda: f"id{next(ids)}", signer=signer,
                             audit=waiver_audit)  # fmt: skip


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> RunStore:
    if request.param == "memory":
        return MemoryRunStore()
    return SqlRunStore(sa.create_engine("sqlite://"))


def test_good_platform_has_no_failure_and_statuses_follow_the_rules(store: RunStore) -> None:
    run = _service(store, Clock(), Static(good_realm())).run(requested_by="wang")
    status = {r.control_id: r.status for r in run.results}
    assert Status.FAIL not in status.values()
    assert status["L3-CES1-01"] is Status.PASS  # checks pass; manual attestation still flagged
    assert status["L3-CES1-08"] is Status.MANUAL  # no automated check
    assert status["GBT39786-8.4-h"] is Status.NOT_APPLICABLE  # seal registry not wired
    reason = run.result("GBT39786-8.4-h").checks[0].reason  # type: ignore[union-attr]
    assert reason == "crypto: this part of the platform is not configured"
    assert store.get_run(run.id) == run


def test_unreachable_source_is_not_applicable_with_the_reason(store: RunStore) -> None:
    run = _service(store, Clock(), Static(None, "Keycloak admin API refused (HTTP 401)")).run()
    checks = run.result("L3-CES1-02").checks  # type: ignore[union-attr]
    assert {c.status for c in checks} == {Status.NOT_APPLICABLE}
    assert checks[0].reason == "realm: Keycloak admin API refused (HTTP 401)"


def test_waiver_counts_until_it_expires_and_history_shows_the_diff(store: RunStore) -> None:
    clock, realm, audit = Clock(), Static(good_realm()), Static(good_audit())
    service = _service(store, clock, realm, audit=audit)
    first = service.run()
    realm.facts = good_realm(brute_force_protected=False)
    clock.now += timedelta(hours=1)
    waiver = service.request_waiver("L3-CES1-02", justification="SSO gateway locks accounts",
                                    expires_at=clock.now + timedelta(days=1), officer=_o("wang"))  # fmt: skip
    approved = service.approve_waiver(waiver.id, officer=_o("zhao"))
    assert (approved.state, approved.decided_by, approved.decided_at) == (
        WaiverState.APPROVED,
        "zhao",
        clock.now,
    )
    clock.now += timedelta(minutes=1)
    second = service.run()
    result = second.result("L3-CES1-02")
    assert result is not None
    assert result.status is Status.FAIL
    assert result.waiver_id == waiver.id
    assert second.counts()["fail"] == 0
    assert second.counts()["waived"] == 1
    assert [(c.control_id, c.before, c.after) for c in service.diff(second)] == [
        ("L3-CES1-02", Status.PASS, Status.FAIL)
    ]
    clock.now += timedelta(days=2)
    audit.facts = good_audit(last_verification_at=clock.now)
    third = service.run()
    assert third.counts()["fail"] == 1
    assert not third.result("L3-CES1-02").waived  # type: ignore[union-attr]
    trend = service.trend(third)["L3-CES1-02"]
    assert [p.status for p in trend] == [Status.PASS, Status.FAIL, Status.FAIL]
    assert [p.run_id for p in trend] == [first.id, second.id, third.id]


def _failing(store: RunStore, clock: Clock) -> ComplianceService:
    return _service(store, clock, Static(good_realm(brute_force_protected=False)))


def _request(service: ComplianceService, clock: Clock, by: str = "wang") -> str:
    return service.request_waiver("L3-CES1-02", justification="gateway locks accounts",
                                  expires_at=clock.now + timedelta(days=30), officer=_o(by)).id  # fmt: skip


def test_a_pending_or_rejected_waiver_does_not_count(store: RunStore) -> None:
    clock = Clock()
    service = _failing(store, clock)
    pending = _request(service, clock)
    assert service.waiver(pending).state is WaiverState.PENDING
    assert service.run().counts()["waived"] == 0  # requested is not approved
    rejected = service.reject_waiver(pending, officer=_o("zhao"), reason="fix the lockout instead")
    assert (rejected.state, rejected.decided_by, rejected.reason) == (
        WaiverState.REJECTED,
        "zhao",
        "fix the lockout instead",
    )
    assert store.waivers() == [rejected]  # kept, with who decided and why
    assert service.run().counts()["waived"] == 0


def test_the_requester_cannot_decide_their_own_waiver(store: RunStore) -> None:
    clock = Clock()
    service = _failing(store, clock)
    waiver_id = _request(service, clock)
    with pytest.raises(WaiverSelfApproval):
        service.approve_waiver(waiver_id, officer=_o("wang"))
    with pytest.raises(WaiverSelfApproval):
        service.reject_waiver(waiver_id, officer=_o("wang"), reason="changed my mind")
    assert service.waiver(waiver_id).state is WaiverState.PENDING
    assert service.run().counts()["waived"] == 0
    with pytest.raises(InvalidRequest, match="officer"):
        service.approve_waiver(waiver_id, officer=_o(""))  # an act needs a person


def test_four_eyes_compares_persons_not_names(store: RunStore) -> None:
    """A renamed account, or a token without preferred_username, is still the requester."""
    clock = Clock()
    service = _failing(store, clock)
    waiver_id = _request(service, clock)
    for same_person in (Officer("wang.renamed", "sub-wang"), Officer("sub-wang", "sub-wang")):
        with pytest.raises(WaiverSelfApproval):
            service.approve_waiver(waiver_id, officer=same_person)
    approved = service.approve_waiver(waiver_id, officer=_o("zhao"))
    assert (approved.requested_by_id, approved.decided_by_id) == ("sub-wang", "sub-zhao")


def test_a_decision_is_final_and_counts_from_when_it_was_made(store: RunStore) -> None:
    clock = Clock()
    service = _failing(store, clock)
    waiver_id = _request(service, clock)
    before = service.run()
    clock.now += timedelta(hours=1)
    service.approve_waiver(waiver_id, officer=_o("zhao"))
    for decide in (lambda: service.approve_waiver(waiver_id, officer=_o("li")),
                   lambda: service.reject_waiver(waiver_id, officer=_o("li"), reason="no")):  # fmt: skip
        with pytest.raises(WaiverStateConflict):
            decide()
    assert service.waiver(waiver_id).decided_by == "zhao"
    assert not service.waiver(waiver_id).active(before.started_at)  # not before its approval
    assert service.run().counts()["waived"] == 1
    with pytest.raises(WaiverNotFound):
        service.approve_waiver("nope", officer=_o("zhao"))


def test_of_two_concurrent_decisions_one_wins(store: RunStore) -> None:
    clock = Clock()
    service = _failing(store, clock)
    read_by_both = service.waiver(_request(service, clock))  # both officers saw it pending
    store.decide_waiver(read_by_both.evolve(state=WaiverState.APPROVED, decided_by="zhao",
                                            decided_at=clock.now))  # fmt: skip
    with pytest.raises(WaiverStateConflict):
        store.decide_waiver(read_by_both.evolve(state=WaiverState.REJECTED, decided_by="li",
                                                decided_at=clock.now, reason="no"))  # fmt: skip
    assert service.waiver(read_by_both.id).decided_by == "zhao"


def test_every_waiver_step_is_audited_under_its_officer(store: RunStore) -> None:
    clock, audit = Clock(), MemoryWaiverAudit()
    service = _service(store, clock, Static(good_realm()), waiver_audit=audit)
    first, second = _request(service, clock), _request(service, clock, by="li")
    with pytest.raises(WaiverSelfApproval):  # refused acts leave no step (the API logs them)
        service.approve_waiver(first, officer=_o("wang"))
    service.approve_waiver(first, officer=_o("zhao"))
    service.reject_waiver(second, officer=_o("zhao"), reason="no")
    service.delete_waiver(first, officer=_o("qian"))
    assert audit.steps == [
        ("requested", first, "wang"), ("requested", second, "li"), ("approved", first, "zhao"),
        ("rejected", second, "zhao"), ("withdrawn", first, "qian"),
    ]  # fmt: skip


def test_an_expired_request_cannot_be_approved(store: RunStore) -> None:
    clock = Clock()
    service = _failing(store, clock)
    waiver_id = _request(service, clock)
    clock.now += timedelta(days=31)
    with pytest.raises(WaiverStateConflict, match="expired"):
        service.approve_waiver(waiver_id, officer=_o("zhao"))
    assert service.run().counts()["waived"] == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"control_id": "L3-CES1-99"}, "control_id"),
        ({"justification": "  "}, "justification"),
        ({"justification": "j" * 2001}, "justification"),
        ({"officer": _o("")}, "officer"),
        ({"officer": Officer("w", "")}, "officer"),
        ({"expires_at": T0 - timedelta(seconds=1)}, "expires_at"),
        ({"expires_at": datetime(2099, 1, 1)}, "expires_at"),
    ],
)
def test_invalid_waivers_are_refused(
    store: RunStore, kwargs: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {"control_id": "L3-CES1-02", "justification": "j",
                               "expires_at": T0 + timedelta(days=1), "officer": _o("w"), **kwargs}  # fmt: skip
    service = _service(store, Clock(), Static(good_realm()))
    with pytest.raises(InvalidRequest, match=field) as caught:
        service.request_waiver(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert store.waivers() == []


@pytest.mark.parametrize("reason", ["", "   ", "r" * 1001])
def test_a_rejection_needs_a_bounded_reason(store: RunStore, reason: str) -> None:
    clock = Clock()
    service = _failing(store, clock)
    waiver_id = _request(service, clock)
    with pytest.raises(InvalidRequest, match="reason"):
        service.reject_waiver(waiver_id, officer=_o("zhao"), reason=reason)
    assert service.waiver(waiver_id).state is WaiverState.PENDING


def _render(run: object) -> bytes:
    return f"%PDF-fake {run}".encode()


def test_sign_off_signs_the_exact_bytes_once(store: RunStore, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_bytes(keys.dump_private_key(PrivateKey.generate()))
    signer = Sm2ReportSigner.from_file(key)
    service = _service(store, Clock(), Static(good_realm()), signer)
    run = service.run()
    signed = service.sign_off(run.id, officer="wang.li", comment="ok", render=_render)
    issued = service.issued(run.id)
    assert issued is not None
    assert signed.signoff is not None
    assert signed.signoff.officer == "wang.li"
    assert "wang.li" in issued.content.decode()  # the rendered run carried the sign-off
    verify_report(issued.content, issued.signature, signer.public_key_pem().encode())
    with pytest.raises(ReportSignatureInvalid):
        verify_report(issued.content[:-1] + b"!", issued.signature,
                      signer.public_key_pem().encode())  # fmt: skip
    with pytest.raises(AlreadySigned):
        service.sign_off(run.id, officer=_o("x"), comment="", render=_render)
    assert service.get(run.id).signoff == signed.signoff


def test_sign_off_without_a_key_is_refused(store: RunStore) -> None:
    service = _service(store, Clock(), Static(good_realm()))
    run = service.run()
    with pytest.raises(SigningUnavailable):
        service.sign_off(run.id, officer=_o("x"), comment="", render=_render)


def test_a_configured_report_seal_adds_a_detached_ses_signature(tmp_path: Path) -> None:
    from crypto.pki import build_crl
    from crypto.seals.format import Options, Overall, Trust, verify_detached
    from crypto.seals.format.testing import make_sample_seal
    from policies.reports.signing import SealReportSealer

    sample = make_sample_seal(T0 - timedelta(days=1))
    crl_time = T0 - timedelta(hours=1)
    crls = (
        sample.pki.crl(revoked=(), now=crl_time, next_update=timedelta(days=30)),
        build_crl(sample.pki.root, sample.pki.root_key, revoked=(), now=crl_time,
                  next_update=timedelta(days=30), crl_number=1),
    )  # fmt: skip
    trust = Trust(roots=(sample.pki.root,), intermediates=(sample.pki.intermediate,), crls=crls)
    key = tmp_path / "k.pem"
    key.write_bytes(keys.dump_private_key(PrivateKey.generate()))
    store = MemoryRunStore()
    service = _service(store, Clock(), Static(good_realm()), Sm2ReportSigner.from_file(key))
    service.sealer = SealReportSealer(sample.seal, sample.key, sample.cert)
    run = service.run()
    service.sign_off(run.id, officer="wang.li", comment="ok", render=_render)
    issued = service.issued(run.id)
    assert issued is not None
    opts = Options(trust=trust, at=T0 + timedelta(minutes=1))
    good = verify_detached(issued.seal_signature, issued.content, opts)
    hash_check = {c.name: c.status for c in good.signatures[0].checks}["document_hash"]
    assert hash_check == "pass"
    assert good.status is Overall.VALID, good.to_json()
    changed = issued.content[:-1] + bytes([issued.content[-1] ^ 1])
    assert verify_detached(issued.seal_signature, changed, opts).status is Overall.INVALID
