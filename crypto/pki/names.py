"""Distinguished names: OpenSSL-style ``/C=CN/O=…/CN=…`` text, seal-holder subjects, USCC.

Seal holders (GB/T 38540 seal users) are organisations: their subject carries the organisation
name in ``O`` and the unified social credit code (USCC, GB 32100-2015) in
``organizationIdentifier`` (2.5.4.97, X.520), as the bare 18-character code. We chose
organizationIdentifier over ``serialNumber`` (2.5.4.5) because X.520 defines it for exactly this
(an identifier of the organisation named in ``O``) while serialNumber identifies the subject
entity, a person or device in most profiles. The code's check character is verified, so a typo
is refused when issuing, not discovered by a relying party.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from asn1crypto import core, x509

from crypto.pki._asn1 import element, elements
from crypto.pki.errors import MalformedCertificateError, invalid_request

# Short names accepted in subject text, as OpenSSL spells them.
_SHORT_NAMES: dict[str, str] = {
    "C": "country_name",
    "ST": "state_or_province_name",
    "L": "locality_name",
    "STREET": "street_address",
    "O": "organization_name",
    "OU": "organizational_unit_name",
    "CN": "common_name",
    "SERIALNUMBER": "serial_number",
    "ORGANIZATIONIDENTIFIER": "organization_identifier",
    "EMAILADDRESS": "email_address",
    "TITLE": "title",
    "UID": "user_id",
}
_LONG_TO_SHORT = {
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "street_address": "street",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "common_name": "CN",
    "serial_number": "serialNumber",
    "organization_identifier": "organizationIdentifier",
    "email_address": "emailAddress",
    "title": "title",
    "user_id": "UID",
}
_PRINTABLE_ATTRIBUTES = frozenset({"country_name", "serial_number"})
_MAX_VALUE_LENGTH = 256
_ESCAPED_SLASH = "\\/"

# GB 32100-2015 §4 and Annex: 31-character alphabet, weights for positions 1..17.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_LENGTH = 18
_USCC_VALUES = {ch: value for value, ch in enumerate(_USCC_ALPHABET)}


def is_valid_uscc(code: str) -> bool:
    """True for a well-formed USCC whose 18th character is the GB 32100-2015 check character."""
    if len(code) != _USCC_LENGTH or not set(code) <= _USCC_VALUES.keys():
        return False
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(code, _USCC_WEIGHTS, strict=False))
    check = (31 - total % 31) % 31
    return _USCC_ALPHABET[check] == code[17]


def _attribute_value(attribute: str, value: str) -> core.Asn1Value:
    """RFC 5280 §4.1.2.4: PrintableString or UTF8String; C and serialNumber PrintableString."""
    if attribute == "email_address":
        return x509.EmailAddress(value)
    if attribute in _PRINTABLE_ATTRIBUTES:
        return x509.DirectoryString(name="printable_string", value=value)
    return x509.DirectoryString(name="utf8_string", value=value)


def build_name(attributes: Sequence[tuple[str, str]]) -> x509.Name:
    """A Name with one attribute per RDN, in the given order (asn1crypto would reorder).

    ``attributes`` are (asn1crypto attribute name, value) pairs such as
    ``("organization_name", "某某局")``. Raises ``MalformedCertificateError`` on an unknown
    attribute, an empty or overlong value, or a country that is not two letters.
    """
    rdns = []
    for attribute, value in attributes:
        if attribute not in _LONG_TO_SHORT:
            raise MalformedCertificateError(f"unsupported name attribute {attribute!r}")
        short = _LONG_TO_SHORT[attribute]
        if not value or len(value) > _MAX_VALUE_LENGTH:
            raise MalformedCertificateError(f"empty or overlong value for {short}")
        if attribute == "country_name" and (len(value) != 2 or not value.isalpha()):  # noqa: PLR2004
            raise MalformedCertificateError("country must be a two-letter code (ISO 3166)")
        try:
            pair = x509.NameTypeAndValue(
                {"type": attribute, "value": _attribute_value(attribute, value)}
            )
            _ = pair.prepped_value  # RFC 4518 string prep: refuse what comparison cannot handle
        except ValueError as exc:
            raise MalformedCertificateError(f"unsupported characters in {short}") from exc
        rdns.append(x509.RelativeDistinguishedName([pair]))
    if not rdns:
        raise MalformedCertificateError("empty distinguished name")
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_name(text: str) -> x509.Name:
    """Parse OpenSSL ``-subj`` syntax: ``/C=CN/O=Org/CN=Name`` (``\\/`` escapes a slash)."""
    if not text.startswith("/"):
        raise MalformedCertificateError("subject must look like /C=CN/O=Org/CN=Name")
    pairs: list[tuple[str, str]] = []
    for part in _split_unescaped(text[1:], "/"):
        key, sep, value = part.partition("=")
        attribute = _SHORT_NAMES.get(key.strip().upper())
        if not sep or attribute is None:
            raise MalformedCertificateError(f"unsupported subject attribute {key.strip()!r}")
        pairs.append((attribute, value.strip()))
    return build_name(pairs)


# Attribute types whose values are DirectoryStrings, by the DER contents of their OID, and
# the text encoding asn1crypto decodes each DirectoryString alternative with (by tag).
_DIRECTORY_TYPES: dict[bytes, str] = {
    bytes(core.ObjectIdentifier(dotted).contents): name
    for dotted, name in x509.NameType._map.items()
    if x509.NameTypeAndValue._oid_specs.get(name) is x509.DirectoryString
}
_DIRECTORY_ENCODINGS: dict[int, str] = {
    spec.tag: spec._encoding for _, spec in x509.DirectoryString._alternatives
}
_OID_TAG, _SEQUENCE_TAG, _SET_TAG = 0x06, 0x30, 0x31


def _directory_attributes(der: bytes) -> list[tuple[str, str]] | None:
    """``name_attributes`` read straight from the DER when every attribute is a known type
    with a DirectoryString value (nearly all names); None otherwise.

    Decodes each value as asn1crypto does (same type names, same text encoding per
    alternative), so the answer is the same, at a fifth of the cost of its object tree.
    """
    top = element(der, 0)
    if top.tag != _SEQUENCE_TAG or top.end != len(der):
        return None
    pairs = []
    for rdn in elements(der, top):
        if rdn.tag != _SET_TAG:
            return None
        for pair in elements(der, rdn):
            parts = elements(der, pair) if pair.tag == _SEQUENCE_TAG else []
            if len(parts) != 2 or parts[0].tag != _OID_TAG:  # noqa: PLR2004 - type, value
                return None
            oid, value = parts
            attribute = _DIRECTORY_TYPES.get(der[oid.body : oid.end])
            encoding = _DIRECTORY_ENCODINGS.get(value.tag)
            if attribute is None or encoding is None:
                return None
            pairs.append((attribute, der[value.body : value.end].decode(encoding)))
    return pairs


@functools.lru_cache(maxsize=1024)
def der_attributes(der: bytes) -> tuple[tuple[str, str], ...]:
    """``name_attributes`` of a name's DER; cached, since issuer names recur in every
    certificate a CA issues. Raises one of ``_asn1.PARSE_ERRORS`` on a malformed name."""
    fast = _directory_attributes(der)
    return tuple(fast if fast is not None else _asn1crypto_attributes(x509.Name.load(der)))


def name_attributes(name: x509.Name) -> list[tuple[str, str]]:
    """(attribute name, value) pairs in order; multi-valued RDNs are flattened.

    Raises ``ValueError`` (or another ``_asn1.PARSE_ERRORS``) on a value that does not decode.
    """
    fast = _directory_attributes(bytes(name.dump()))
    return fast if fast is not None else _asn1crypto_attributes(name)


def _asn1crypto_attributes(name: x509.Name) -> list[tuple[str, str]]:
    pairs = []
    for rdn in name.chosen:
        for pair in rdn:
            pairs.append((str(pair["type"].native), str(pair["value"].native)))
    return pairs


def names_equal(left: x509.Name, right: x509.Name) -> bool:
    """RFC 5280 §7.1 comparison (case-folded, space-normalised), falling back to exact DER.

    asn1crypto's comparison raises on code points RFC 4518 cannot prepare; such names
    still match themselves byte for byte, and nothing else. Identical DER is equal under
    either rule, so it is checked first: an issuer name is nearly always a byte copy of the
    issuer's subject, and the string preparation costs more than the rest of a comparison.
    """
    if bytes(left.dump()) == bytes(right.dump()):
        return True
    try:
        return bool(left == right)
    except ValueError:
        return bytes(left.dump()) == bytes(right.dump())


def format_name(name: x509.Name) -> str:
    """OpenSSL-style text of a name, for messages and the CLI."""
    return format_attributes(name_attributes(name))


def format_attributes(pairs: Iterable[tuple[str, str]]) -> str:
    """``format_name`` of a name's ``name_attributes``."""
    parts = []
    for attribute, value in pairs:
        short = _LONG_TO_SHORT.get(attribute, attribute)
        escaped = value.replace("/", _ESCAPED_SLASH)
        parts.append(f"/{short}={escaped}")
    return "".join(parts) or "/"


def seal_holder_name(
    organization: str, uscc: str, *, common_name: str | None = None, country: str = "CN"
) -> x509.Name:
    """Subject of a seal holder: C, O, organizationIdentifier = USCC, CN (module docstring)."""
    if not is_valid_uscc(uscc):
        raise invalid_request("not a valid unified social credit code (GB 32100-2015)")
    return build_name(
        [
            ("country_name", country),
            ("organization_name", organization),
            ("organization_identifier", uscc),
            ("common_name", common_name or organization),
        ]
    )


def with_uscc(name: x509.Name, uscc: str) -> x509.Name:
    """``name`` with organizationIdentifier = ``uscc`` added before CN (seal-holder profile).

    Refuses a name without ``O`` or one that already names a different organisation code.
    """
    if not is_valid_uscc(uscc):
        raise invalid_request("not a valid unified social credit code (GB 32100-2015)")
    pairs = name_attributes(name)
    if not any(attr == "organization_name" for attr, _ in pairs):
        raise invalid_request("a seal holder subject needs O=")
    existing = [v for attr, v in pairs if attr == "organization_identifier"]
    if existing and existing != [uscc]:
        raise invalid_request("subject already carries a different organizationIdentifier")
    if existing:
        return build_name(pairs)
    index = next((i for i, (attr, _) in enumerate(pairs) if attr == "common_name"), len(pairs))
    return build_name([*pairs[:index], ("organization_identifier", uscc), *pairs[index:]])


def uscc_of(name: x509.Name) -> str | None:
    """The USCC in a seal-holder subject, or None if absent or not a valid code."""
    return uscc_in(name_attributes(name))


def uscc_in(pairs: Iterable[tuple[str, str]]) -> str | None:
    """``uscc_of`` a name's ``name_attributes``."""
    values = (v for a, v in pairs if a == "organization_identifier")
    for value in values:
        if is_valid_uscc(value):
            return value
    return None
