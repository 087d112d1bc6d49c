"""GB/T 2260 division code structure and the GB 32100-2015 credit code check character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iam.orgs import codes
from iam.orgs.errors import InvalidOrgInput
from iam.orgs.model import NodeKind, OrgNode, check_placement

# A widely published specimen credit code (Fuzhou, authority 9 = market regulation).
SPECIMEN = "91350100M000100Y43"


def test_specimen_credit_code_is_valid() -> None:
    codes.check_uscc(SPECIMEN)
    assert codes.uscc_check_char(SPECIMEN[:17]) == "3"


def test_weights_are_powers_of_three_mod_31() -> None:
    assert codes.USCC_WEIGHTS[:6] == (1, 3, 9, 27, 19, 26)
    assert codes.USCC_WEIGHTS[-1] == 28


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100I43", "without I O S V Z"),
        ("01350100M000100Y43", "registering authority"),
        ("9135A100M000100Y43", "six-digit division code"),
    ],
)
def test_bad_credit_codes(code: str, reason: str) -> None:
    with pytest.raises(codes.CodeError, match=reason):
        codes.check_uscc(code)


@given(
    st.text(alphabet=codes.USCC_ALPHABET, min_size=17, max_size=17),
    st.integers(0, 16),
    st.integers(1, 30),
)
def test_any_single_substitution_is_detected(body: str, pos: int, shift: int) -> None:
    valid = body + codes.uscc_check_char(body)
    value = codes.USCC_ALPHABET.index(valid[pos])
    swapped = codes.USCC_ALPHABET[(value + shift) % 31]
    tampered = valid[:pos] + swapped + valid[pos + 1 :]
    assert codes.uscc_check_char(tampered[:17]) != tampered[17]


def _node(kind: NodeKind, code: str) -> OrgNode:
    return OrgNode("id-" + code, kind, code, "n", "/" + code, None)


@pytest.mark.parametrize(
    ("kind", "code", "parent"),
    [
        (NodeKind.PROVINCE, "530000", None),
        (NodeKind.PREFECTURE, "530100", _node(NodeKind.PROVINCE, "530000")),
        (NodeKind.COUNTY, "530102", _node(NodeKind.PREFECTURE, "530100")),
        (NodeKind.TOWNSHIP, "530102001", _node(NodeKind.COUNTY, "530102")),
        (NodeKind.VILLAGE, "530102001201", _node(NodeKind.TOWNSHIP, "530102001")),
        (NodeKind.DEPARTMENT, SPECIMEN, _node(NodeKind.VILLAGE, "530102001201")),
    ],
)
def test_valid_placements(kind: NodeKind, code: str, parent: OrgNode | None) -> None:
    check_placement(kind, code, parent)


@pytest.mark.parametrize(
    ("kind", "code", "parent", "field"),
    [
        (NodeKind.PROVINCE, "990000", None, "code"),
        (NodeKind.PROVINCE, "530100", None, "code"),
        (NodeKind.PREFECTURE, "520100", _node(NodeKind.PROVINCE, "530000"), "code"),
        (NodeKind.PREFECTURE, "530000", _node(NodeKind.PROVINCE, "530000"), "code"),
        (NodeKind.COUNTY, "530202", _node(NodeKind.PREFECTURE, "530100"), "code"),
        (NodeKind.COUNTY, "530100", _node(NodeKind.PREFECTURE, "530100"), "code"),
        (NodeKind.TOWNSHIP, "53010200", _node(NodeKind.COUNTY, "530102"), "code"),
        (NodeKind.TOWNSHIP, "530103001", _node(NodeKind.COUNTY, "530102"), "code"),
        (NodeKind.TOWNSHIP, "530102000", _node(NodeKind.COUNTY, "530102"), "code"),
        (NodeKind.VILLAGE, "530102002001", _node(NodeKind.TOWNSHIP, "530102001"), "code"),
        (NodeKind.VILLAGE, "530102001001", _node(NodeKind.COUNTY, "530102"), "parent_id"),
        (NodeKind.COUNTY, "530102", None, "parent_id"),
        (NodeKind.PROVINCE, "530000", _node(NodeKind.PROVINCE, "520000"), "parent_id"),
        (NodeKind.DEPARTMENT, SPECIMEN, None, "parent_id"),
        (NodeKind.DEPARTMENT, "91350100M000100Y44", _node(NodeKind.COUNTY, "530102"), "code"),
    ],
)
def test_invalid_placements(kind: NodeKind, code: str, parent: OrgNode | None, field: str) -> None:
    with pytest.raises(InvalidOrgInput) as info:
        check_placement(kind, code, parent)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("code", "path"),
    [
        ("530000", "/530000"),
        ("530100", "/530000/530100"),
        ("530102", "/530000/530100/530102"),
        ("530102101", "/530000/530100/530102/530102101"),
        ("530102101201", "/530000/530100/530102/530102101/530102101201"),
        (SPECIMEN, None),
        ("5301", None),
    ],
)
def test_division_codes_carry_their_path(code: str, path: str | None) -> None:
    assert codes.division_path(code) == path
