"""asn1crypto set-up for SM2 PKI: OIDs, time encoding and PEM/DER loading.

asn1crypto knows no SM OIDs; registering them here (idempotently, by OID) lets it name the
SM2 curve and the SM2-with-SM3 signature algorithm. Code compares OIDs by dotted form,
never by the registered name, so another module registering other names does no harm.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, NamedTuple

from asn1crypto import algos, core, keys, pem, x509

SM2_CURVE_OID = "1.2.156.10197.1.301"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"

# What asn1crypto raises on hostile DER: besides ValueError, assorted internal errors (an
# ObjectDescriptor inside a SEQUENCE raises AttributeError in ``.native``, found by fuzzing).
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
)

_GENERALIZED_TIME_FROM = datetime(2050, 1, 1, tzinfo=UTC)


def register_oids() -> None:
    """Teach asn1crypto the SM2 curve and SM2-with-SM3 (STANDARDS.md, OIDs)."""
    if SM2_CURVE_OID not in keys.NamedCurve._map:
        keys.NamedCurve.register("sm2p256v1", SM2_CURVE_OID, 32)
    if SM2_WITH_SM3_OID not in algos.SignedDigestAlgorithmId._map:
        algos.SignedDigestAlgorithmId._map[SM2_WITH_SM3_OID] = "sm2_sm3"
        algos.SignedDigestAlgorithmId._reverse_map["sm2_sm3"] = SM2_WITH_SM3_OID


register_oids()


def sm2_sm3_algorithm() -> algos.SignedDigestAlgorithm:
    """AlgorithmIdentifier for SM2-with-SM3, parameters absent, as OpenSSL and GmSSL emit."""
    return algos.SignedDigestAlgorithm({"algorithm": SM2_WITH_SM3_OID})


def is_sm2_sm3(algorithm: algos.SignedDigestAlgorithm) -> bool:
    """True if ``algorithm`` is SM2-with-SM3 with absent (or NULL) parameters."""
    if algorithm["algorithm"].dotted != SM2_WITH_SM3_OID:
        return False
    params = algorithm["parameters"]
    return params.native is None


def spki_for(point: bytes) -> keys.PublicKeyInfo:
    """SubjectPublicKeyInfo for an SM2 point 04||x||y: id-ecPublicKey + the SM2 curve OID."""
    return keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": EC_PUBLIC_KEY_OID, "parameters": ("named", SM2_CURVE_OID)},
            "public_key": point,
        }
    )


def sm2_point(spki: keys.PublicKeyInfo) -> bytes:
    """The 04||x||y point of an SM2 SubjectPublicKeyInfo; raises ValueError for other keys."""
    algorithm = spki["algorithm"]
    if algorithm["algorithm"].dotted != EC_PUBLIC_KEY_OID:
        raise ValueError("not an EC public key")
    params = algorithm["parameters"]
    if params.name != "named" or params.chosen.dotted != SM2_CURVE_OID:
        raise ValueError("not an SM2 public key")
    point: bytes = spki["public_key"].contents[1:]
    if len(point) != 65 or point[0] != 4:  # noqa: PLR2004 - 04||x||y, 32-byte coordinates
        raise ValueError("SM2 public key is not an uncompressed point")
    return point


_SM2_KEY_ALGORITHM = bytes(spki_for(b"\x04" + bytes(64))["algorithm"].dump())
_POINT_BITS = b"\x03\x42\x00\x04"  # BIT STRING, 66 octets: no unused bits, then 04||x||y

#: DER AlgorithmIdentifiers of SM2-with-SM3, parameters absent or NULL.
SM2_SM3_ALGORITHMS = frozenset(
    {
        bytes(sm2_sm3_algorithm().dump()),
        bytes(
            algos.SignedDigestAlgorithm(
                {"algorithm": SM2_WITH_SM3_OID, "parameters": core.Null()}
            ).dump()
        ),
    }
)


def sm2_point_of(spki: bytes) -> bytes:
    """``sm2_point`` over the DER of a SubjectPublicKeyInfo, by its exact bytes (DER has
    one encoding of id-ecPublicKey with the SM2 curve); raises ValueError for other keys."""
    head = element(spki, 0)
    algorithm = element(spki, head.body)
    if spki[algorithm.head : algorithm.end] != _SM2_KEY_ALGORITHM:
        raise ValueError("not an SM2 public key")
    bits = spki[algorithm.end :]
    if (
        head.end != len(spki)
        or len(bits) != len(_POINT_BITS) + 64
        or not bits.startswith(_POINT_BITS)
    ):
        raise ValueError("SM2 public key is not an uncompressed point")
    return bits[3:]


@functools.lru_cache(maxsize=1024)
def parse_extension(der: bytes) -> None:
    """Parse a DER Extension with asn1crypto, its value by the spec for its type, so that
    malformed contents fail (raises one of ``PARSE_ERRORS``, which are not cached).

    An authorityKeyIdentifier's certificate serial must be positive (RFC 5280 §4.1.2.2):
    pyca/cryptography only warns about it.
    """
    extension = x509.Extension.load(der, strict=True)
    fully_parse(extension)
    if extension["extn_id"].native == "authority_key_identifier":
        serial = extension["extn_value"].parsed["authority_cert_serial_number"].native
        if serial is not None and serial <= 0:
            raise ValueError("authorityCertSerialNumber is not positive")


def x509_time(moment: datetime) -> x509.Time:
    """UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if moment < _GENERALIZED_TIME_FROM:
        return x509.Time(name="utc_time", value=moment)
    return x509.Time(name="general_time", value=moment)


def unarmor(data: bytes, labels: tuple[str, ...]) -> bytes:
    """DER from PEM (one of ``labels``) or DER input; raises ValueError on anything else."""
    stripped = data.lstrip()
    if not stripped.startswith(b"-----BEGIN"):
        return data
    label, _headers, der = pem.unarmor(stripped)
    if label not in labels:
        raise ValueError("unexpected PEM label")
    return bytes(der)


def armor(label: str, der: bytes) -> bytes:
    """PEM text for DER bytes."""
    return bytes(pem.armor(label, der))


class Element(NamedTuple):
    """One DER element located in its buffer: identifier octet, where it starts (header),
    where its contents start, where it ends."""

    tag: int
    head: int
    body: int
    end: int


def element(data: bytes, pos: int) -> Element:
    """The DER element at ``pos``.

    Low tag numbers and definite lengths only, and no minimality checks: this walks
    structures a strict parser has checked (or is about to check) to slice out their exact
    bytes. Raises ``ValueError`` or ``IndexError`` on anything it cannot read.
    """
    head, tag, length = pos, data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:  # noqa: PLR2004 - X.690 §8.1.2.4: high tag number form
        raise ValueError("high tag number")
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:  # noqa: PLR2004 - lengths up to 4 GiB
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError("truncated")
    return Element(tag, head, pos, end)


def elements(data: bytes, parent: Element) -> list[Element]:
    """The elements inside ``parent``, which they must fill exactly."""
    out = []
    pos = parent.body
    while pos < parent.end:
        item = element(data, pos)
        out.append(item)
        pos = item.end
    if pos != parent.end:
        raise ValueError("elements overrun their container")
    return out


def fully_parse(value: Any) -> None:
    """Force asn1crypto's lazy parser through every field, so malformed DER fails here."""
    _ = value.native
