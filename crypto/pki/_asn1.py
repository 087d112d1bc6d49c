"""asn1crypto set-up for SM2 PKI: OIDs, time encoding and PEM/DER loading.

asn1crypto knows no SM OIDs; registering them here (idempotently, by OID) lets it name the
SM2 curve and the SM2-with-SM3 signature algorithm. Code compares OIDs by dotted form,
never by the registered name, so another module registering other names does no harm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, keys, pem, x509

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


def fully_parse(value: Any) -> None:
    """Force asn1crypto's lazy parser through every field, so malformed DER fails here."""
    _ = value.native
