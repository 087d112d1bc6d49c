from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import CertificateError
from crypto.pki import (
    MalformedCertificateError,
    Reason,
    format_name,
    is_valid_uscc,
    names_equal,
    parse_name,
    seal_holder_name,
    uscc_of,
    with_uscc,
)
from crypto.pki.names import name_attributes

VALID_USCC = "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        (VALID_USCC, True),
        ("91350100M000100Y44", False),  # wrong check character
        ("91350100m000100y43", False),  # lower case is not in the alphabet
        ("91350100M000100Y4", False),  # 17 characters
        ("91350100M000100I43", False),  # I is not in the GB 32100 alphabet
        ("", False),
    ],
)
def test_uscc_check_character(code, valid):
    assert is_valid_uscc(code) is valid


def test_parse_name_keeps_order_and_types():
    name = parse_name("/C=CN/ST=福建/O=福州市某局/OU=办公室/CN=张三")
    assert name_attributes(name) == [
        ("country_name", "CN"),
        ("state_or_province_name", "福建"),
        ("organization_name", "福州市某局"),
        ("organizational_unit_name", "办公室"),
        ("common_name", "张三"),
    ]
    country = name.chosen[0][0]["value"]
    assert country.name == "printable_string"  # RFC 5280 §4.1.2.4
    assert name.chosen[4][0]["value"].name == "utf8_string"


def test_escaped_slash_round_trips():
    name = parse_name(r"/O=A\/B/CN=x")
    assert name_attributes(name)[0] == ("organization_name", "A/B")
    assert parse_name(format_name(name)) == name


@pytest.mark.parametrize(
    "text",
    ["CN=x", "/XX=1", "/CN", "/C=CHN", "/C=1A", "/CN=", "/O=" + "x" * 300],
)
def test_bad_subjects_are_refused(text):
    with pytest.raises(MalformedCertificateError) as info:
        parse_name(text)
    assert isinstance(info.value, CertificateError)
    assert info.value.reason is Reason.MALFORMED


def test_seal_holder_name_carries_uscc_in_organization_identifier():
    name = seal_holder_name("福州市某局", VALID_USCC)
    assert (
        format_name(name) == f"/C=CN/O=福州市某局/organizationIdentifier={VALID_USCC}/CN=福州市某局"
    )
    assert uscc_of(name) == VALID_USCC
    with pytest.raises(MalformedCertificateError) as info:
        seal_holder_name("x", "91350100M000100Y44")
    assert info.value.reason is Reason.INVALID_REQUEST


def test_with_uscc_inserts_before_cn_and_refuses_conflicts():
    name = with_uscc(parse_name("/C=CN/O=Org/CN=Seal"), VALID_USCC)
    assert format_name(name) == f"/C=CN/O=Org/organizationIdentifier={VALID_USCC}/CN=Seal"
    assert with_uscc(name, VALID_USCC) == name
    with pytest.raises(MalformedCertificateError, match="needs O="):
        with_uscc(parse_name("/CN=Seal"), VALID_USCC)
    other = parse_name("/O=Org/organizationIdentifier=91110000000000000X/CN=x")
    with pytest.raises(MalformedCertificateError, match="different"):
        with_uscc(other, VALID_USCC)
    assert uscc_of(parse_name("/O=Org/CN=x")) is None


def _escape(value):
    return value.replace("\\", "").replace("/", "\\/")


_value = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda v: v == v.strip())


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.sampled_from(["O", "OU", "CN", "L", "ST"]), _value), min_size=1, max_size=5
    )
)
def test_format_parse_round_trip(pairs):
    text = "".join(f"/{k}={_escape(v)}" for k, v in pairs)
    try:
        name = parse_name(text)
    except MalformedCertificateError:
        return  # e.g. code points RFC 4518 string prep refuses: refused up front, never later
    assert names_equal(parse_name(format_name(name)), name)
    assert parse_name(format_name(name)).dump() == name.dump()


def test_names_equal_survives_unpreparable_code_points():
    from asn1crypto import x509

    odd = x509.Name.build({"common_name": "\ud7a4"})
    assert names_equal(odd, x509.Name.load(odd.dump()))
    assert not names_equal(odd, parse_name("/CN=x"))
    assert names_equal(parse_name("/CN=Some  Name"), parse_name("/CN=some name"))  # RFC 5280 §7.1
