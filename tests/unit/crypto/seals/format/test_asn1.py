"""DER codecs: strict output, lenient input with every leniency reported, GM/T 0031 v1 read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import sm3
from crypto.seals.format import (
    MalformedSeal,
    SealVersion,
    asn1,
    decode_seal,
    decode_signature,
    der,
    verify_detached,
    verify_seal,
)
from crypto.seals.format.model import SM2_WITH_SM3, MakerCoverage

from .conftest import NOW, statuses


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integer_round_trip(value):
    assert der.integer(der.parse(der.enc_integer(value), "i", max_length=16), "i") == value


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=8))
def test_oid_round_trip(arcs):
    dotted = ".".join(str(a) for a in [1, 2, *arcs])
    assert der.oid(der.parse(der.enc_oid(dotted), "o", max_length=256), "o") == dotted


@given(st.binary(max_size=300))
def test_bits_and_octets_round_trip(data):
    notes: list[str] = []
    assert der.bits(der.parse(der.enc_bits(data), "b", max_length=400), "b", notes) == data
    assert notes == []
    assert der.bits(der.parse(der.enc_octets(data), "b", max_length=400), "b", notes) == data
    assert notes == ["b: OCTET STRING where BIT STRING is expected"]


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_generalized_time_round_trip(value):
    aware = value.replace(microsecond=0, tzinfo=UTC)
    assert (
        der.time(der.parse(der.enc_generalized_time(aware), "t", max_length=32), "t", []) == aware
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x05\x02\x01",
        b"\x30\x80\x00\x00",
        b"\x30\x81\x01\x00",
        b"\x02\x02\x00\x01",
        b"\x30\x00\x00",
    ],
)
def test_malformed_der_is_refused(data):
    def decode() -> None:
        node = der.parse(data, "x", max_length=64)
        node.children()
        der.integer(node, "i")

    with pytest.raises(MalformedSeal):
        decode()


def test_deep_nesting_is_bounded():
    data = b"\x05\x00"
    for _ in range(200):
        data = der.seq(data)

    def descend() -> None:
        node = der.parse(data, "x", max_length=1 << 20)
        while True:
            node = node.children()[0]

    with pytest.raises(MalformedSeal, match="nested too deeply"):
        descend()


def test_oversized_input_is_refused():
    with pytest.raises(MalformedSeal, match="larger than"):
        decode_seal(der.seq(der.enc_octets(b"\x00" * (asn1.MAX_SEAL_BYTES + 1))))


def test_decode_exposes_exact_bytes(sample):
    seal = decode_seal(sample.seal.der)
    assert seal.version is SealVersion.V4
    assert seal.info.version == 4
    assert seal.info.header_id == "ES"
    assert dict(seal.maker_tbs)[MakerCoverage.SEAL_INFO] == asn1.encode_seal_info(seal.info)
    assert (
        asn1.encode_seal(
            dict(seal.maker_tbs)[MakerCoverage.SEAL_INFO],
            seal.maker_cert,
            seal.sign_alg,
            seal.signed_value,
        )
        == sample.seal.der
    )


def _lenient_signature(sample, when: datetime) -> bytes:
    """A v4 signature with OCTET STRING dataHash/signature and a UTCTime timeInfo."""
    tbs = der.seq(
        der.enc_integer(4),
        sample.seal.der,
        der.tlv(der.UTC_TIME, when.strftime("%y%m%d%H%M%SZ").encode()),
        der.enc_octets(sm3.digest(b"doc")),
        der.enc_ia5("doc"),
    )
    signature = sample.key.sign(tbs)
    return der.seq(
        tbs, der.enc_octets(sample.cert.der), der.enc_oid(SM2_WITH_SM3), der.enc_octets(signature)
    )


def test_leniencies_are_reported_and_signature_still_verifies(sample, opts):
    report = verify_detached(_lenient_signature(sample, NOW + timedelta(hours=1)), b"doc", opts)
    assert str(report.status) == "valid", report.to_text()
    notes = report.signatures[0].leniencies
    assert "timeInfo: UTCTime where GeneralizedTime is expected" in notes
    assert "dataHash: OCTET STRING where BIT STRING is expected" in notes
    assert "signature: OCTET STRING where BIT STRING is expected" in notes


def _v1_seal_and_signature(sample) -> tuple[bytes, bytes]:
    """GM/T 0031-2014 structures built by hand: UTCTime dates, signInfo, v1 TBS_Sign."""
    utc = lambda t: der.tlv(der.UTC_TIME, t.strftime("%y%m%d%H%M%SZ").encode())  # noqa: E731
    prop = der.seq(
        der.enc_integer(1),
        der.enc_utf8("v1 印章"),
        der.seq(der.enc_octets(sample.cert.der)),
        utc(NOW),
        utc(NOW),
        utc(NOW + timedelta(days=30)),
    )
    pic = sample.seal.info.picture
    info = der.seq(
        der.seq(der.enc_ia5("ES"), der.enc_integer(1), der.enc_ia5("V1VENDOR")),
        der.enc_ia5("v1seal"),
        prop,
        der.seq(
            der.enc_ia5("PNG"), der.enc_octets(pic.data), der.enc_integer(30), der.enc_integer(30)
        ),
    )
    tbs = asn1.maker_tbs(info, sample.maker.der, SM2_WITH_SM3, MakerCoverage.SEAL_INFO_CERT_ALG)
    seal = der.seq(
        info,
        der.seq(
            der.enc_octets(sample.maker.der),
            der.enc_oid(SM2_WITH_SM3),
            der.enc_bits(sample.maker_key.sign(tbs)),
        ),
    )
    when = (NOW + timedelta(hours=2)).strftime("%Y%m%d%H%M%SZ").encode()
    to_sign = der.seq(
        der.enc_integer(1),
        seal,
        der.enc_bits(when),
        der.enc_bits(sm3.digest(b"v1 doc")),
        der.enc_ia5("v1.txt"),
        der.enc_octets(sample.cert.der),
        der.enc_oid(SM2_WITH_SM3),
    )
    return seal, der.seq(to_sign, der.enc_bits(sample.key.sign(to_sign)))


def test_gmt_0031_v1_seal_and_signature_verify(sample, opts):
    seal_der, sig_der = _v1_seal_and_signature(sample)
    seal = decode_seal(seal_der)
    assert seal.version is SealVersion.V1
    assert seal.info.property.valid_end == NOW + timedelta(days=30)
    assert "createDate: UTCTime where GeneralizedTime is expected" not in seal.leniencies
    report = verify_seal(seal_der, opts)
    assert report.signatures[0].facts["maker_signature_covers"] == "seal_info_cert_alg"
    sig = decode_signature(sig_der)
    assert sig.version is SealVersion.V1
    assert sig.time_info == NOW + timedelta(hours=2)
    report = verify_detached(sig_der, b"v1 doc", opts)
    assert str(report.status) == "valid", report.to_text()


def test_signer_not_listed_is_reported(sample, opts):
    from crypto.seals.format import make_seal
    from crypto.seals.format.testing import make_sample_seal

    other_holder = make_sample_seal(NOW).cert  # a different holder certificate
    seal = make_seal(
        maker_key=sample.maker_key,
        maker_cert=sample.maker,
        holder_certs=[other_holder],
        name="别人的章",
        es_id="other",
        picture=sample.seal.info.picture,
        valid_start=NOW,
        valid_end=NOW + timedelta(days=9),
        now=NOW,
    )
    tbs = asn1.encode_tbs_sign(seal.der, NOW + timedelta(hours=1), sm3.digest(b"x"), "x")
    forged = asn1.encode_signature(tbs, sample.cert.der, SM2_WITH_SM3, sample.key.sign(tbs))
    report = verify_detached(forged, b"x", opts)
    got = statuses(report)
    assert got["signature"] == "pass"
    assert got["signer_listed"] == "fail"
    assert str(report.status) == "invalid"


def test_wrong_types_are_malformed_reports(opts):
    for data in (
        b"",
        b"\x04\x03abc",
        der.seq(der.enc_integer(1), der.enc_integer(2)),
        b"\x30\x03\x02\x01",
    ):
        report = verify_detached(data, b"", opts)
        assert str(report.status) == "invalid"
        assert statuses(report)["structure"] == "fail"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x30\x05\x30\x03\x02\x05\x00", "X[0][0]: truncated value"),  # short length
        (b"\x30\x06\x30\x04\x04\x81\x05\x00", "X[0][0]: non-minimal length"),  # long form
        (b"\x30\x04\x30\x00\x1f\x80", "X[1]: non-minimal tag"),  # high tag number
        (b"\x30\x03\x02\x01", "X: truncated value"),
    ],
)
def test_errors_name_the_element_path(data, message):
    """Paths are built only for errors (``der.Tlv.path``), and read as they always have."""

    def walk(tlv: der.Tlv) -> None:
        for child in tlv.children():
            if child.constructed:
                walk(child)

    with pytest.raises(MalformedSeal) as info:
        walk(der.parse(data, "X", max_length=64))
    assert str(info.value.detail) == message
