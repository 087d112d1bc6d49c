"""Typed views of GB/T 38540-2020 (v4) and GM/T 0031-2014 (v1) seal structures.

Decoded objects keep the exact DER of every part a signature covers, since signatures are
checked over received bytes, never over a re-encoding. ``leniencies`` lists each known
real-world deviation accepted on input, so a verification report can show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM3_OID = "1.2.156.10197.1.401"


class SealVersion(IntEnum):
    """V1: GM/T 0031-2014; V4: GB/T 38540-2020 (SES_Header.version 4)."""

    V1 = 1
    V4 = 4


class CertListType(IntEnum):
    """SES_ESPropertyInfo.certListType (GB/T 38540 §7.1): certificates or their digests."""

    CERTS = 1
    DIGESTS = 2


class MakerCoverage(StrEnum):
    """What the seal maker's signature covers; the v4 text is read both ways in practice.

    ``SEAL_INFO``: DER(SES_SealInfo) alone (ofdrw's makers, OpenSSL-based verifiers; the
    default of ``make_seal``). ``SEAL_INFO_CERT_ALG``: DER(SEQUENCE { eSealInfo, cert,
    signAlgID }), as GM/T 0031 v1 defines it.
    """

    SEAL_INFO = "seal_info"
    SEAL_INFO_CERT_ALG = "seal_info_cert_alg"


@dataclass(frozen=True)
class Picture:
    """SES_ESPictrueInfo: image type ("PNG", "JPG", "SVG"…), bytes, displayed size in mm."""

    type: str
    data: bytes = field(repr=False)
    width_mm: int
    height_mm: int


@dataclass(frozen=True)
class Extension:
    """One ExtensionDatas entry."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class CertDigest:
    """SES_CertList certDigestList entry: digest algorithm name and value."""

    algorithm: str
    value: bytes


@dataclass(frozen=True)
class SealProperty:
    """SES_ESPropertyInfo: type, name, holder certificates (or digests), validity."""

    type: int
    name: str
    cert_list_type: CertListType
    certs: tuple[bytes, ...]
    cert_digests: tuple[CertDigest, ...]
    create_date: datetime
    valid_start: datetime
    valid_end: datetime


@dataclass(frozen=True)
class SealInfo:
    """SES_SealInfo: header (ID "ES", version, vendor), esID, property, picture, extensions."""

    header_id: str
    version: int
    vendor_id: str
    es_id: str
    property: SealProperty
    picture: Picture
    extensions: tuple[Extension, ...] = ()


@dataclass(frozen=True)
class Seal:
    """A decoded SESeal with the bytes its maker signature may cover."""

    version: SealVersion
    info: SealInfo
    maker_cert: bytes = field(repr=False)
    sign_alg: str
    signed_value: bytes = field(repr=False)
    der: bytes = field(repr=False)
    maker_tbs: tuple[tuple[MakerCoverage, bytes], ...] = field(repr=False)
    leniencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class SealSignature:
    """A decoded SES_Signature: the seal used, time, data hash, signer and signature."""

    version: SealVersion
    seal: Seal
    time_info: datetime | None
    data_hash: bytes
    property_info: str
    signer_cert: bytes = field(repr=False)
    sign_alg: str
    signature: bytes = field(repr=False)
    timestamp: bytes | None = field(repr=False)
    tbs_der: bytes = field(repr=False)
    der: bytes = field(repr=False)
    extensions: tuple[Extension, ...] = ()
    leniencies: tuple[str, ...] = ()
