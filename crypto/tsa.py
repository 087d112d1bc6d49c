"""RFC 3161 time-stamping with SM2: requests, Anbao's TSA, and token verification.

The token is a CMS SignedData (RFC 5652 §5) whose eContent is a TSTInfo (RFC 3161 §2.4.2),
signed by the TSA certificate (critical extKeyUsage timeStamping, §2.3) with SM2-with-SM3
(1.2.156.10197.1.501) over the DER of the signed attributes: contentType, messageDigest (SM3
of the TSTInfo) and signingCertificateV2 with an SM3 ESSCertIDv2 (RFC 5816). Imprints in SM3
(GM/T 0004) or SHA-256 are accepted; GB/T 38540 §7.2 puts such a token, over the signature
value, in ``SES_Signature.timeStamp`` (``TimeStampAuthority.timestamper``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
        return bytes(
            _TimeStampResp(
                {"status": {"status": "granted"}, "time_stamp_token": cms.ContentInfo.load(token)}
            ).dump()
        )

    def stamp(self, data: bytes) -> bytes:
        """A token (DER ContentInfo) over SM3(``data``), with the certificate included."""
        return self._token(SM3_OID, sm3.digest(data), None, True)

    def timestamper(self) -> Callable[[bytes], bytes]:
        """For ``crypto.seal.sign``: signature value -> token over it (GB/T 38540 §7.2)."""
        return self.stamp

    def _token(self, algorithm: str, digest: bytes, nonce: int | None, with_cert: bool) -> bytes:
        info: dict[str, object] = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": {
                "hash_algorithm": {"algorithm": algorithm},
                "hashed_message": digest,
            },
            "serial_number": self._serial(),
            "gen_time": core.GeneralizedTime(self._clock()),
            "accuracy": {"seconds": 1},
        }
        if nonce is not None:
            info["nonce"] = nonce
        content = tsp.TSTInfo(info).dump()
        return self._sign(content, with_cert)

    def _signed_attrs(self, content: bytes) -> cms.CMSAttributes:
        ess = {
            "hash_algorithm": {"algorithm": SM3_OID},
            "cert_hash": sm3.digest(self._cert.der),
            "issuer_serial": {
                "issuer": [x509.GeneralName(name="directory_name", value=self._cert.issuer)],
                "serial_number": self._cert.serial_number,
            },
        }
        return cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [sm3.digest(content)]},
                {"type": "signing_certificate_v2", "values": [{"certs": [ess]}]},
            ]
        )

    def _sign(self, content: bytes, with_cert: bool) -> bytes:
        attrs = self._signed_attrs(content)
        signature = self._key.sign(attrs.dump(), uid=self._uid)
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": self._cert.issuer, "serial_number": self._cert.serial_number},
                ),
                "digest_algorithm": {"algorithm": SM3_OID},
                "signed_attrs": attrs,
                "signature_algorithm": {"algorithm": SM2_SM3_OID},
                "signature": signature,
            }
        )
        signed: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": SM3_OID})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(content),
            },
            "signer_infos": [signer],
        }
        if with_cert:
            signed["certificates"] = [x509.Certificate.load(self._cert.der)]
        return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def parse_response(response_der: bytes) -> bytes:
    """The token of a granted TimeStampResp; TimestampError with the status otherwise."""
    raw = _load(_TimeStampResp, response_der, MAX_TOKEN_BYTES, "time-stamp response")
    status = raw["status"]["status"].native
    if status not in ("granted", "granted_with_mods"):
        text = raw["status"]["status_string"].native or []
        raise TimestampError(f"the TSA refused: {status} {' '.join(text)}".strip())
    return bytes(raw["time_stamp_token"].dump())
