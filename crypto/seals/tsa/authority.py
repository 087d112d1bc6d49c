"""RFC 3161 time-stamping with SM2: requests, Anbao's TSA, and token verification.

The token is a CMS SignedData (RFC 5652 §5) whose eContent is a TSTInfo (RFC 3161 §2.4.2),
signed by the TSA certificate (critical extKeyUsage timeStamping, §2.3) with SM2-with-SM3
(1.2.156.10197.1.501) over the DER of the signed attributes: contentType, messageDigest (SM3
of the TSTInfo) and signingCertificateV2 with an SM3 ESSCertIDv2 (RFC 5816). Imprints in SM3
(GM/T 0004) or SHA-256 are accepted; GB/T 38540 §7.2 puts such a token, over the signature
value, in ``SES_Signature.timeStamp`` (``TimeStampAuthority.timestamper``).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import algos, cms, core, tsp, x509

from crypto import sm3
from crypto.errors import CryptoError
from crypto.pki import DEFAULT_UID, Certificate, SigningKey

SM3_OID: Final = sm3.OID
SHA256_OID: Final = "2.16.840.1.101.3.4.2.1"
SM2_SM3_OID: Final = "1.2.156.10197.1.501"
#: Anbao's TSA policy: an OID under the UUID arc (ITU-T X.667), needing no registration.
DEFAULT_POLICY: Final = "2.25.205913426424981093493406520911488219467"
CONTENT_TYPE_TIMESTAMP: Final = "application/timestamp-query"
CONTENT_TYPE_REPLY: Final = "application/timestamp-reply"
MAX_REQUEST_BYTES: Final = 4096
MAX_TOKEN_BYTES: Final = 64 * 1024
_HASHES: Final = {SM3_OID: (sm3.digest, 32), SHA256_OID: (lambda d: hashlib.sha256(d).digest(), 32)}


class TimestampError(CryptoError):
    """A time-stamp request, response or token is malformed or does not verify."""

    code = "timestamp_invalid"
    title = "Time-stamp invalid"


class TimestampChainNotFound(TimestampError):
    """The TSA certificate does not chain to the trusted roots with the certificates given:
    the token may be good, the verifier lacks material (ETSI NO_CERTIFICATE_CHAIN_FOUND)."""

    code = "timestamp_chain_not_found"
    title = "Time-stamp authority not chained"


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token says: when, which policy, serial, and over which imprint."""

    gen_time: datetime
    serial_number: int
    policy: str
    hash_algorithm: str
    imprint: bytes
    tsa_subject: str


def _hash(algorithm: str, data: bytes) -> bytes:
    if algorithm not in _HASHES:
        raise TimestampError("unsupported message imprint hash algorithm")
    return _HASHES[algorithm][0](data)


def build_request(
    digest: bytes, *, algorithm: str = SM3_OID, nonce: int | None = None, cert_req: bool = True
) -> bytes:
    """DER TimeStampReq (RFC 3161 §2.4.1) over an already computed ``digest``."""
    if algorithm not in _HASHES or len(digest) != _HASHES[algorithm][1]:
        raise TimestampError("the digest does not match the hash algorithm")
    request: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "cert_req": cert_req,
    }
    if nonce is not None:
        request["nonce"] = nonce
    return bytes(tsp.TimeStampReq(request).dump())


def _load(spec: type[core.Asn1Value], data: bytes, limit: int, what: str) -> core.Asn1Value:
    if len(data) > limit:
        raise TimestampError(f"{what} too large")
    try:
        value = spec.load(data, strict=True)
        value.native  # noqa: B018 - asn1crypto parses lazily; force the whole structure now
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise TimestampError(f"malformed {what}") from exc
    return value


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """TimeStampResp with the token OPTIONAL, as RFC 3161 §2.4.2 has it (asn1crypto omits it)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _rejection(fail: str, text: str) -> bytes:
    status = {"status": "rejection", "status_string": [text], "fail_info": {fail}}
    return bytes(_TimeStampResp({"status": status}).dump())


_SHORT_FORM: Final = 0x80


def _tlv(tag: int, content: bytes) -> bytes:
    """One DER TLV (X.690 §8.1): definite length, short form below 128."""
    size = len(content)
    if size < _SHORT_FORM:
        return bytes((tag, size)) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _int(value: int) -> bytes:
    """A non-negative INTEGER, minimal (X.690 §8.3.2)."""
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _generalized_time(value: datetime) -> bytes:
    """GeneralizedTime in UTC, fraction without trailing zeros (RFC 3161 §2.4.2, X.690 §11.7)."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y%m%d%H%M%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return _tlv(0x18, (text + "Z").encode())


@functools.cache
def _algorithm_der(oid: str) -> bytes:
    return bytes(algos.DigestAlgorithm({"algorithm": oid}).dump())


_OID_SIGNED_DATA: Final = bytes(core.ObjectIdentifier("1.2.840.113549.1.7.2").dump())
_OID_TST_INFO: Final = bytes(core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump())
_OID_MESSAGE_DIGEST: Final = bytes(core.ObjectIdentifier("1.2.840.113549.1.9.4").dump())
_SM2_SM3_DER: Final = bytes(algos.SignedDigestAlgorithm({"algorithm": SM2_SM3_OID}).dump())
_ACCURACY_1S: Final = _seq(_int(1))
_GRANTED: Final = _seq(_int(0))


class TimeStampAuthority:
    """Anbao's TSA: answers TimeStampReq with SM2-signed tokens (RFC 3161 §2.4.2)."""

    def __init__(
        self,
        key: SigningKey,
        certificate: Certificate,
        *,
        clock: Callable[[], datetime],
        serial: Callable[[], int] = lambda: secrets.randbits(127) | 1 << 126,
        policy: str = DEFAULT_POLICY,
        uid: bytes = DEFAULT_UID,
    ) -> None:
        if key.public_key().to_bytes() != certificate.public_key_bytes:
            raise TimestampError("the TSA key does not match its certificate")
        self._key = key
        self._cert = certificate
        self._clock = clock
        self._serial = serial
        self._policy = policy
        self._uid = uid
        self._policy_der = bytes(core.ObjectIdentifier(policy).dump())
        self._sid = bytes(
            cms.IssuerAndSerialNumber(
                {"issuer": certificate.issuer, "serial_number": certificate.serial_number}
            ).dump()
        )
        self._content_type_attr = bytes(
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump()
        )
        ess = {
            "hash_algorithm": {"algorithm": SM3_OID},
            "cert_hash": sm3.digest(certificate.der),
            "issuer_serial": {
                "issuer": [x509.GeneralName(name="directory_name", value=certificate.issuer)],
                "serial_number": certificate.serial_number,
            },
        }
        self._ess_attr = bytes(
            cms.CMSAttribute(
                {"type": "signing_certificate_v2", "values": [{"certs": [ess]}]}
            ).dump()
        )

    @property
    def certificate(self) -> Certificate:
        """The TSA certificate."""
        return self._cert

    def respond(self, request_der: bytes) -> bytes:
        """A DER TimeStampResp: granted with a token, or a rejection with its failInfo."""
        try:
            raw = _load(tsp.TimeStampReq, request_der, MAX_REQUEST_BYTES, "time-stamp request")
        except TimestampError:
            return _rejection("bad_data_format", "malformed TimeStampReq")
        request: tsp.TimeStampReq = raw
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].dotted
        digest = bytes(imprint["hashed_message"].native)
        if algorithm not in _HASHES or len(digest) != _HASHES[algorithm][1]:
            return _rejection("bad_alg", "message imprint must be SM3 or SHA-256")
        policy = request["req_policy"].dotted if request["req_policy"].native else self._policy
        if policy != self._policy:
            return _rejection("unaccepted_policy", "unknown TSA policy")
        if request["extensions"].native:
            return _rejection("unaccepted_extension", "extensions are not supported")
        nonce = request["nonce"].native
        token = self._token(algorithm, digest, nonce, bool(request["cert_req"].native))
        return _seq(_GRANTED, token)

    def stamp(self, data: bytes) -> bytes:
        """A token (DER ContentInfo) over SM3(``data``), with the certificate included."""
        return self._token(SM3_OID, sm3.digest(data), None, True)

    def timestamper(self) -> Callable[[bytes], bytes]:
        """For ``crypto.seals.format.sign``: signature value -> token over it (GB/T 38540 §7.2)."""
        return self.stamp

    def _token(self, algorithm: str, digest: bytes, nonce: int | None, with_cert: bool) -> bytes:
        """TSTInfo (RFC 3161 §2.4.2) in DER, assembled from the parts fixed at start-up."""
        fields = [
            _int(1),
            self._policy_der,
            _seq(_algorithm_der(algorithm), _tlv(0x04, digest)),
            _int(self._serial()),
            _generalized_time(self._clock()),
            _ACCURACY_1S,
        ]
        if nonce is not None:
            fields.append(_int(nonce))
        return self._sign(_seq(*fields), with_cert)

    def _sign(self, content: bytes, with_cert: bool) -> bytes:
        """CMS SignedData (RFC 5652 §5) over ``content``; signed attributes sorted (DER SET OF)."""
        digest_attr = _seq(_OID_MESSAGE_DIGEST, _tlv(0x31, _tlv(0x04, sm3.digest(content))))
        attrs: list[bytes] = [self._content_type_attr, digest_attr, self._ess_attr]
        width = max(len(a) for a in attrs)
        body = b"".join(sorted(attrs, key=lambda a: bytes(a).ljust(width, b"\0")))
        signature = self._key.sign(_tlv(0x31, body), uid=self._uid)
        signer = _seq(
            _int(1),
            self._sid,
            _algorithm_der(SM3_OID),
            _tlv(0xA0, body),
            _SM2_SM3_DER,
            _tlv(0x04, signature),
        )
        parts = [
            _int(3),
            _tlv(0x31, _algorithm_der(SM3_OID)),
            _seq(_OID_TST_INFO, _tlv(0xA0, _tlv(0x04, content))),
        ]
        if with_cert:
            parts.append(_tlv(0xA0, self._cert.der))
        parts.append(_tlv(0x31, signer))
        return _seq(_OID_SIGNED_DATA, _tlv(0xA0, _seq(*parts)))


def parse_response(response_der: bytes) -> bytes:
    """The token of a granted TimeStampResp; TimestampError with the status otherwise."""
    raw = _load(_TimeStampResp, response_der, MAX_TOKEN_BYTES, "time-stamp response")
    status = raw["status"]["status"].native
    if status not in ("granted", "granted_with_mods"):
        text = raw["status"]["status_string"].native or []
        raise TimestampError(f"the TSA refused: {status} {' '.join(text)}".strip())
    return bytes(raw["time_stamp_token"].dump())
