"""Identifier rules of the org tree: GB/T 2260 division codes and GB 32100-2015 credit codes.

Administrative division codes (GB/T 2260-2007 §4; extended to township and village level as in
the statistical division code, GB/T 10114-2003 §5) are hierarchical by prefix:

* province ``PP0000``, prefecture ``PPCC00``, county ``PPCCXX`` (six digits);
* township: the county's six digits + three (nine digits);
* village: the township's nine digits + three (twelve digits).

So a child code must extend its parent's meaningful prefix, which is how we check that a node
sits under the right parent. Departments carry the unified social credit code (GB 32100-2015
§4): 18 characters from a 31-symbol alphabet (no I, O, S, V, Z); positions 3-8 are the
registering authority's division code; position 18 is a check character computed by §5
(weights ``3^(i-1) mod 31``).

Pure functions; violations raise :class:`CodeError` naming the rule broken.
"""

from __future__ import annotations

import re

#: GB/T 2260 province-level prefixes (mainland, plus 71 Taiwan, 81 Hong Kong, 82 Macao).
PROVINCE_PREFIXES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)

#: GB 32100-2015 §4.2 character set, in value order (0..30).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
#: GB 32100-2015 §5: weight of position i (1-based) is 3^(i-1) mod 31.
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
#: GB 32100-2015 §4.1 table 1: registering authority codes (1 机构编制 … 9 工商, Y 其他).
_USCC_AUTHORITIES = frozenset("123456789ABCDEFGHJKLMNY")

USCC_LENGTH = 18
TOWNSHIP_LENGTH = 9
VILLAGE_LENGTH = 12
_DIGITS = re.compile(r"[0-9]+")


class CodeError(ValueError):
    """A code breaks a structural rule; the message is client-safe."""


def _digits(code: str, length: int, what: str) -> None:
    if len(code) != length or not _DIGITS.fullmatch(code):
        raise CodeError(f"a {what} code has exactly {length} digits")


def check_province(code: str) -> None:
    _digits(code, 6, "province")
    if code[:2] not in PROVINCE_PREFIXES or code[2:] != "0000":
        raise CodeError("a province code is a GB/T 2260 province prefix followed by 0000")


def check_prefecture(code: str, province: str) -> None:
    _digits(code, 6, "prefecture")
    if code[:2] != province[:2]:
        raise CodeError("a prefecture code starts with its province's two digits")
    if code[2:4] == "00" or code[4:] != "00":
        raise CodeError("a prefecture code is PPCC00 with CC not 00")


def check_county(code: str, prefecture: str) -> None:
    _digits(code, 6, "county")
    if code[:4] != prefecture[:4]:
        raise CodeError("a county code starts with its prefecture's four digits")
    if code[4:] == "00":
        raise CodeError("a county code does not end in 00")


def check_township(code: str, county: str) -> None:
    _digits(code, 9, "township")
    if code[:6] != county:
        raise CodeError("a township code starts with its county's six digits")
    if code[6:] == "000":
        raise CodeError("a township code does not end in 000")


def check_village(code: str, township: str) -> None:
    _digits(code, 12, "village")
    if code[:9] != township:
        raise CodeError("a village code starts with its township's nine digits")
    if code[9:] == "000":
        raise CodeError("a village code does not end in 000")


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 §5 check character of the first 17 characters."""
    if len(first17) != USCC_LENGTH - 1 or any(c not in _USCC_VALUE for c in first17):
        raise CodeError("a credit code body is 17 characters of the GB 32100 alphabet")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(code: str) -> None:
    """Validate a unified social credit code (GB 32100-2015 §4, §5)."""
    if len(code) != USCC_LENGTH:
        raise CodeError("a unified social credit code has exactly 18 characters")
    bad = [c for c in code if c not in _USCC_VALUE]
    if bad:
        raise CodeError("a unified social credit code uses only 0-9 and A-Y without I O S V Z")
    if code[0] not in _USCC_AUTHORITIES:
        raise CodeError("the first character is not a GB 32100 registering authority code")
    if not _DIGITS.fullmatch(code[2:8]):
        raise CodeError("characters 3-8 of a credit code are a six-digit division code")
    if uscc_check_char(code[:17]) != code[17]:
        raise CodeError("the check character of the credit code is wrong")


def division_path(code: str) -> str | None:
    """The code path from the province down to a division code, or None if not one.

    Division codes carry their ancestry (GB/T 2260 §4): ``530102101`` lies under ``530102``,
    ``530100`` and ``530000``. Lets a directory find a node by path instead of a search.
    """
    if not _DIGITS.fullmatch(code) or len(code) not in {6, 9, 12}:
        return None
    county = code[:6]
    chain = [county[:2] + "0000"]
    if county[2:4] != "00":
        chain.append(county[:4] + "00")
    if county[4:] != "00":
        chain.append(county)
    if len(code) >= TOWNSHIP_LENGTH:
        chain.append(code[:TOWNSHIP_LENGTH])
    if len(code) == VILLAGE_LENGTH:
        chain.append(code)
    return "/" + "/".join(chain)
