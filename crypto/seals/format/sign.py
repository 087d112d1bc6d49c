"""Apply a seal: SES_Signature over a document hash (GB/T 38540 §7.2, §8.2).

``sign_bytes`` is the detached form (dataHash = SM3 of the document, propertyInfo names it);
``crypto.seals.format.ofd.sign_ofd`` uses ``sign_digest`` with the hash of Signature.xml. The
signer must be a holder the seal lists, the seal must be within its validity window, and the
key must match the certificate: anything else is refused before signing. Seal states
(suspended, revoked) are the lifecycle service's business, checked before it calls here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crypto import sm3
from crypto.pki import DEFAULT_UID, Certificate, SigningKey
from crypto.seals.format import asn1
from crypto.seals.format.errors import SigningRefused
from crypto.seals.format.make import cert_digest
from crypto.seals.format.model import SM2_WITH_SM3, CertListType, Seal

#: Given the signature value, returns the RFC 3161 token to embed in ``timeStamp``.
Timestamper = Callable[[bytes], bytes]


def seal_lists(seal: Seal, cert_der: bytes) -> bool:
    """True if the seal's certList names ``cert_der`` (whole, or by an SM3 digest)."""
    prop = seal.info.property
    if prop.cert_list_type is CertListType.CERTS:
        return cert_der in prop.certs
    wanted = cert_digest(cert_der).value
    return any(
        d.value == wanted
        for d in prop.cert_digests
        if d.algorithm.lower() in ("sm3", "1.2.156.10197.1.401")
    )


def check_can_sign(seal: Seal, key: SigningKey, cert: Certificate, now: datetime) -> None:
    """Refuse a signature that could never verify as valid at ``now``."""
    prop = seal.info.property
    if not prop.valid_start <= now <= prop.valid_end:
        raise SigningRefused("the seal is outside its validity window")
    if not seal_lists(seal, cert.der):
        raise SigningRefused("the signer certificate is not listed in the seal")
    if not cert.not_before <= now <= cert.not_after:
        raise SigningRefused("the signer certificate is outside its validity period")
    if key.public_key().to_bytes() != cert.public_key_bytes:
        raise SigningRefused("the signing key does not match the signer certificate")


def sign_digest(
    data_hash: bytes,
    *,
    seal: Seal,
    key: SigningKey,
    cert: Certificate,
    now: datetime,
    property_info: str,
    timestamper: Timestamper | None = None,
    uid: bytes = DEFAULT_UID,
) -> bytes:
    """DER SES_Signature v4 over an SM3 ``data_hash``."""
    if len(data_hash) != sm3.DIGEST_SIZE:
        raise SigningRefused("dataHash must be an SM3 digest")
    if not property_info.isascii():
        raise SigningRefused("propertyInfo must be ASCII (IA5String)")
    check_can_sign(seal, key, cert, now)
    tbs = asn1.encode_tbs_sign(seal.der, now, data_hash, property_info)
    signature = key.sign(tbs, uid=uid)
    token = timestamper(signature) if timestamper is not None else None
    return asn1.encode_signature(tbs, cert.der, SM2_WITH_SM3, signature, token)


def sign_bytes(
    document: bytes,
    *,
    seal: Seal,
    key: SigningKey,
    cert: Certificate,
    now: datetime,
    property_info: str = "document",
    timestamper: Timestamper | None = None,
    uid: bytes = DEFAULT_UID,
) -> bytes:
    """Detached SES_Signature: dataHash = SM3(document); ``property_info`` names it."""
    return sign_digest(
        sm3.digest(document),
        seal=seal,
        key=key,
        cert=cert,
        now=now,
        property_info=property_info,
        timestamper=timestamper,
        uid=uid,
    )
