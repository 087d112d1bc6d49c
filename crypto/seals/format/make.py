"""Make a seal: build SES_SealInfo and sign it as the seal maker (GB/T 38540 §7.1, §8.1).

The maker's key signs with SM2-with-SM3 under the GM/T 0009 default user ID. What the
signature covers is the ``coverage`` argument (see ``MakerCoverage``): by default
DER(SES_SealInfo) alone, the reading of the public implementations that make or check v4
maker signatures (ofdrw's seal makers, the OpenSSL-based GM/T 0031 / GB/T 38540 verifiers),
so the widest set of verifiers accepts Anbao's seals (docs/e-seals.md);
``MakerCoverage.SEAL_INFO_CERT_ALG`` gives the v1-style DER(SEQUENCE { eSealInfo, cert,
signAlgID }). Verification accepts both and reports which one verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from crypto import sm3
from crypto.pki import DEFAULT_UID, Certificate, SigningKey
from crypto.seals.format import asn1
from crypto.seals.format.errors import SigningRefused
from crypto.seals.format.model import (
    SM2_WITH_SM3,
    CertDigest,
    CertListType,
    Extension,
    MakerCoverage,
    Picture,
    Seal,
    SealInfo,
    SealProperty,
)
from crypto.seals.format.picture import check_picture

DEFAULT_VENDOR = "ANBAO"
MAX_ES_ID = 64
MAX_NAME = 256
SEAL_TYPE_OFFICIAL = 1  # 单位印章; GB/T 38540 leaves type values to the application


def cert_digest(cert_der: bytes) -> CertDigest:
    """A certDigestList entry: SM3 of the certificate's DER."""
    return CertDigest("sm3", sm3.digest(cert_der))


def _check_inputs(es_id: str, name: str, valid_start: datetime, valid_end: datetime) -> None:
    if not es_id or not es_id.isascii() or len(es_id) > MAX_ES_ID:
        raise SigningRefused("esID must be 1 to 64 ASCII characters")
    if not name or len(name) > MAX_NAME:
        raise SigningRefused("seal name must be 1 to 256 characters")
    if valid_start.tzinfo is None or valid_end.tzinfo is None:
        raise SigningRefused("seal validity times must be timezone-aware")
    if valid_end <= valid_start:
        raise SigningRefused("seal validEnd must be after validStart")


def make_seal(
    *,
    maker_key: SigningKey,
    maker_cert: Certificate,
    holder_certs: Sequence[Certificate],
    name: str,
    es_id: str,
    picture: Picture,
    valid_start: datetime,
    valid_end: datetime,
    now: datetime,
    seal_type: int = SEAL_TYPE_OFFICIAL,
    vendor_id: str = DEFAULT_VENDOR,
    cert_list_type: CertListType = CertListType.CERTS,
    extensions: tuple[Extension, ...] = (),
    coverage: MakerCoverage = MakerCoverage.SEAL_INFO,
    uid: bytes = DEFAULT_UID,
) -> Seal:
    """Build and maker-sign a v4 SESeal; the result is decoded back, so it is well-formed."""
    _check_inputs(es_id, name, valid_start, valid_end)
    check_picture(picture)
    if not holder_certs:
        raise SigningRefused("a seal lists at least one holder certificate")
    if maker_key.public_key().to_bytes() != maker_cert.public_key_bytes:
        raise SigningRefused("the maker key does not match the maker certificate")
    ders = tuple(c.der for c in holder_certs)
    info = SealInfo(
        header_id="ES",
        version=4,
        vendor_id=vendor_id,
        es_id=es_id,
        property=SealProperty(
            type=seal_type,
            name=name,
            cert_list_type=cert_list_type,
            certs=ders if cert_list_type is CertListType.CERTS else (),
            cert_digests=tuple(cert_digest(d) for d in ders)
            if cert_list_type is CertListType.DIGESTS
            else (),
            create_date=now,
            valid_start=valid_start,
            valid_end=valid_end,
        ),
        picture=picture,
        extensions=extensions,
    )
    info_der = asn1.encode_seal_info(info)
    tbs = asn1.maker_tbs(info_der, maker_cert.der, SM2_WITH_SM3, coverage)
    signed = maker_key.sign(tbs, uid=uid)
    return asn1.decode_seal(asn1.encode_seal(info_der, maker_cert.der, SM2_WITH_SM3, signed))
