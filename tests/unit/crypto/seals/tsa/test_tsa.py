"""RFC 3161 with SM2: Anbao's TSA answers, tokens verify, and tampering is caught."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asn1crypto import cms, tsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import sm3
from crypto.keystore import KekRing, MemoryWrappedKeys, SoftwareKeyStore
from crypto.pki.testing import make_test_pki
from crypto.seals.ca import CaConfig, CaRole, MemoryCaRepository, SealCa
from crypto.seals.tsa.authority import (
    SHA256_OID,
    TimeStampAuthority,
    TimestampChainNotFound,
    TimestampError,
    build_request,
    parse_response,
)
from crypto.seals.tsa.verify import verify_token

NOW = datetime(2026, 11, 26, 8, 0, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> tuple[SealCa, TimeStampAuthority]:
    keys = SoftwareKeyStore(
        MemoryWrappedKeys(), KekRing.parse(KekRing.generate_entry("k1")), clock=lambda: NOW
    )
    ca = SealCa(MemoryCaRepository(), keys, CaConfig())
    ca.bootstrap(NOW)
    tsa = ca.entity(CaRole.TSA)
    return ca, TimeStampAuthority(
        keys.signer(tsa.key_id), tsa.certificate, clock=lambda: NOW, serial=lambda: 42
    )


def test_request_response_verify(world: tuple[SealCa, TimeStampAuthority]) -> None:
    ca, authority = world
    response = authority.respond(build_request(sm3.digest(b"doc"), nonce=7))
    parsed = tsp.TimeStampResp.load(response)
    assert parsed["status"]["status"].native == "granted"
    assert (
        parsed["time_stamp_token"]["content"]["encap_content_info"]["content"]
        .parsed["nonce"]
        .native
        == 7
    )
    info = verify_token(
        parse_response(response),
        trust_roots=ca.trust_roots(),
        intermediates=ca.intermediates(),
        data=b"doc",
    )
    assert (info.gen_time, info.serial_number) == (NOW, 42)
    assert info.tsa_subject.endswith("Time-Stamping Authority")
    with pytest.raises(TimestampError, match="other data"):
        verify_token(
            parse_response(response),
            trust_roots=ca.trust_roots(),
            intermediates=ca.intermediates(),
            data=b"dog",
        )


def test_sha256_imprint(world: tuple[SealCa, TimeStampAuthority]) -> None:
    import hashlib

    ca, authority = world
    request = build_request(hashlib.sha256(b"x").digest(), algorithm=SHA256_OID)
    token = parse_response(authority.respond(request))
    verify_token(token, trust_roots=ca.trust_roots(), intermediates=ca.intermediates(), data=b"x")


@pytest.mark.parametrize(
    ("request_der", "fail"),
    [
        (b"\x30\x03\x02\x01", "bad_data_format"),
        (b"", "bad_data_format"),
        (b"\x30" * 5000, "bad_data_format"),
    ],
)
def test_rejections(
    world: tuple[SealCa, TimeStampAuthority], request_der: bytes, fail: str
) -> None:
    _, authority = world
    response = authority.respond(request_der)
    with pytest.raises(TimestampError, match="rejection"):
        parse_response(response)
    assert fail in str(tsp.PKIStatusInfo.load(response[2:])["fail_info"].native)


def test_unknown_policy_and_bad_digest(world: tuple[SealCa, TimeStampAuthority]) -> None:
    _, authority = world
    request = tsp.TimeStampReq.load(build_request(sm3.digest(b"a")))
    request["req_policy"] = "1.2.3.4"
    with pytest.raises(TimestampError, match="unknown TSA policy"):
        parse_response(authority.respond(request.dump(force=True)))
    with pytest.raises(TimestampError):
        build_request(b"short")


def test_untrusted_and_tampered_tokens(world: tuple[SealCa, TimeStampAuthority]) -> None:
    ca, authority = world
    token = authority.stamp(b"signature value")
    with pytest.raises(TimestampChainNotFound, match="does not validate"):
        verify_token(token, trust_roots=[make_test_pki(NOW).root], data=b"signature value")
    with pytest.raises(TimestampChainNotFound):  # the TSA's issuing CA is not given
        verify_token(token, trust_roots=ca.trust_roots(), data=b"signature value")
    info = cms.ContentInfo.load(token)
    signer = info["content"]["signer_infos"][0]
    raw = bytearray(signer["signature"].native)
    raw[-1] ^= 1
    signer["signature"] = bytes(raw)
    with pytest.raises(TimestampError) as caught:
        verify_token(
            info.dump(force=True), trust_roots=ca.trust_roots(), intermediates=ca.intermediates()
        )
    assert not isinstance(caught.value, TimestampChainNotFound)
    with pytest.raises(TimestampError, match="malformed"):
        verify_token(token[:-3], trust_roots=ca.trust_roots())


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=512))
def test_hostile_requests_get_a_rejection(
    world: tuple[SealCa, TimeStampAuthority], data: bytes
) -> None:
    _, authority = world
    with pytest.raises(TimestampError, match="rejection"):
        parse_response(authority.respond(data))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=2000), flip=st.integers(min_value=0, max_value=2000))
def test_mangled_tokens_only_raise_timestamp_error(
    world: tuple[SealCa, TimeStampAuthority], cut: int, flip: int
) -> None:
    ca, authority = world
    token = bytearray(authority.stamp(b"value"))
    token[flip % len(token)] ^= 0x55
    mangled = bytes(token[: len(token) - cut % len(token)])
    with pytest.raises(TimestampError):
        verify_token(mangled, trust_roots=ca.trust_roots(), intermediates=ca.intermediates())


def test_seal_timestamp_from_an_unchained_tsa_is_indeterminate_not_invalid(
    world: tuple[SealCa, TimeStampAuthority],
) -> None:
    """ETSI NO_CERTIFICATE_CHAIN_FOUND holds for the TSA certificate as for the signer's."""
    from datetime import timedelta

    from crypto.seals.format import Options, Trust, sign_bytes, verify_detached
    from crypto.seals.format.testing import make_sample_seal
    from crypto.seals.tsa.verify import timestamp_verifier

    ca, authority = world
    sample = make_sample_seal(NOW - timedelta(days=1))
    signed = sign_bytes(
        b"doc",
        seal=sample.seal,
        key=sample.key,
        cert=sample.cert,
        now=NOW,
        timestamper=authority.stamp,
    )
    trust = Trust(roots=(sample.pki.root,), intermediates=(sample.pki.intermediate,))

    def timestamp_check(verifier):  # type: ignore[no-untyped-def]
        report = verify_detached(signed, b"doc", Options(trust, NOW, verifier))
        return next(c for c in report.signatures[0].checks if c.name == "timestamp")

    unchained = timestamp_check(timestamp_verifier(ca.trust_roots()))  # intermediates missing
    assert (str(unchained.status), unchained.code) == (
        "indeterminate",
        "no_certificate_chain_found",
    )
    chained = timestamp_check(timestamp_verifier(ca.trust_roots(), ca.intermediates()))
    assert str(chained.status) == "pass", chained.reason
