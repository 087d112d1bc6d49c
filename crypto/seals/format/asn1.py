"""DER codecs for SESeal and SES_Signature: GB/T 38540-2020 (v4) both ways, GM/T 0031 v1 read.

Versions are told apart by the outer SEQUENCE's element count (SESeal: 2 → v1, 4 → v4;
SES_Signature: 2 → v1, 4 or 5 → v4), then by SES_Header.version (STANDARDS.md). Output is
strict DER; input accepts the deviations listed in ``der.bits`` and ``der.time`` and
records each in ``leniencies``.
"""

# ruff: noqa: PLR2004 - element counts are those of the ASN.1 definitions in GB/T 38540 / GM/T 0031
from __future__ import annotations

from datetime import datetime

from crypto.seals.format import der
from crypto.seals.format._cache import Lru
from crypto.seals.format.der import Tlv
from crypto.seals.format.errors import MalformedSeal
from crypto.seals.format.model import (
    CertDigest,
    CertListType,
    Extension,
    MakerCoverage,
    Picture,
    Seal,
    SealInfo,
    SealProperty,
    SealSignature,
    SealVersion,
)

MAX_SEAL_BYTES = 4 * 1024 * 1024
MAX_SIGNATURE_BYTES = MAX_SEAL_BYTES + 1024 * 1024


def _extensions(tlv: Tlv, notes: list[str]) -> tuple[Extension, ...]:
    """ExtensionDatas ::= SEQUENCE OF { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }."""
    out = []
    for item in der.expect(tlv, der.SEQUENCE, "ExtensionDatas").children():
        parts = der.sequence(item, "ExtData", (2, 3))
        critical = der.boolean(parts[1], "critical") if len(parts) == 3 else False
        out.append(
            Extension(der.oid(parts[0], "extnID"), critical, der.octets(parts[-1], "extnValue"))
        )
    del notes
    return tuple(out)


def _cert_list(tlv: Tlv, kind: CertListType) -> tuple[tuple[bytes, ...], tuple[CertDigest, ...]]:
    items = der.expect(tlv, der.SEQUENCE, "certList").children()
    if kind is CertListType.CERTS:
        return tuple(der.octets(i, "certificate") for i in items), ()
    digests = []
    for item in items:
        alg, value = der.sequence(item, "CertDigestObj", (2,))
        digests.append(
            CertDigest(der.text(alg, der.PRINTABLE_STRING, "type"), der.octets(value, "value"))
        )
    return (), tuple(digests)


def _property(tlv: Tlv, notes: list[str]) -> SealProperty:
    """v4: 7 fields with certListType and GeneralizedTime; v1: 6 fields with UTCTime."""
    parts = der.sequence(tlv, "SES_ESPropertyInfo", (6, 7))
    if len(parts) == 7:
        type_, name, list_type, cert_list, *times = parts
        try:
            kind = CertListType(der.integer(list_type, "certListType"))
        except ValueError as exc:
            raise MalformedSeal(f"{list_type.path}: unknown certListType") from exc
        want = der.GENERALIZED_TIME
    else:
        type_, name, cert_list, *times = parts
        kind, want = CertListType.CERTS, der.UTC_TIME
    certs, digests = _cert_list(cert_list, kind)
    created, start, end = (
        der.time(t, label, notes, want=want)
        for t, label in zip(times, ("createDate", "validStart", "validEnd"), strict=True)
    )
    return SealProperty(
        type=der.integer(type_, "type"),
        name=der.text(name, der.UTF8_STRING, "name"),
        cert_list_type=kind,
        certs=certs,
        cert_digests=digests,
        create_date=created,
        valid_start=start,
        valid_end=end,
    )


def _picture(tlv: Tlv) -> Picture:
    kind, data, width, height = der.sequence(tlv, "SES_ESPictrueInfo", (4,))
    return Picture(
        type=der.text(kind, der.IA5_STRING, "picture type"),
        data=der.octets(data, "picture data"),
        width_mm=der.integer(width, "width"),
        height_mm=der.integer(height, "height"),
    )


def _seal_info(tlv: Tlv, notes: list[str]) -> SealInfo:
    parts = der.sequence(tlv, "SES_SealInfo", (4, 5))
    header_id, version, vid = der.sequence(parts[0], "SES_Header", (3,))
    return SealInfo(
        header_id=der.text(header_id, der.IA5_STRING, "header ID"),
        version=der.integer(version, "header version"),
        vendor_id=der.text(vid, der.IA5_STRING, "Vid"),
        es_id=der.text(parts[1], der.IA5_STRING, "esID"),
        property=_property(parts[2], notes),
        picture=_picture(parts[3]),
        extensions=_extensions(parts[4], notes) if len(parts) == 5 else (),
    )


def decode_seal_tlv(tlv: Tlv) -> Seal:
    """SESeal from a parsed element (also used for the seal inside TBS_Sign)."""
    notes: list[str] = []
    parts = der.sequence(tlv, "SESeal", (2, 4))
    info = _seal_info(parts[0], notes)
    if len(parts) == 4:
        version = SealVersion.V4
        cert_t, alg_t, value_t = parts[1:]
        cover_v4 = der.seq(parts[0].raw, cert_t.raw, alg_t.raw)
        tbs = (
            (MakerCoverage.SEAL_INFO, parts[0].raw),
            (MakerCoverage.SEAL_INFO_CERT_ALG, cover_v4),
        )
    else:
        version = SealVersion.V1
        cert_t, alg_t, value_t = der.sequence(parts[1], "signInfo", (3,))
        cover_v1 = der.seq(parts[0].raw, cert_t.raw, alg_t.raw)
        tbs = (
            (MakerCoverage.SEAL_INFO_CERT_ALG, cover_v1),
            (MakerCoverage.SEAL_INFO, parts[0].raw),
        )
    if info.header_id != "ES":
        notes.append(f"SES_Header.ID is {info.header_id!r}, not 'ES'")
    if info.version != version:
        notes.append(f"SES_Header.version {info.version} in a v{int(version)} layout")
    return Seal(
        version=version,
        info=info,
        maker_cert=der.octets(cert_t, "maker cert"),
        sign_alg=der.oid(alg_t, "signAlgID"),
        signed_value=der.bits(value_t, "seal signedValue", notes),
        der=tlv.raw,
        maker_tbs=tbs,
        leniencies=tuple(notes),
    )


_SEALS: Lru[Seal] = Lru(256)


def _cached_seal(tlv: Tlv) -> Seal:
    """The seal inside a TBS_Sign: the same few seals recur, so decode each once."""
    return _SEALS.get_or(tlv.raw, lambda: decode_seal_tlv(tlv))


def decode_seal(data: bytes) -> Seal:
    """Decode a SESeal (``.esl``), v4 or v1; raise ``MalformedSeal``."""
    return decode_seal_tlv(der.parse(bytes(data), "SESeal", max_length=MAX_SEAL_BYTES))


def _v1_time(tlv: Tlv, notes: list[str]) -> datetime | None:
    """v1 timeInfo is a BIT STRING holding a time (``der.time_text``); unreadable → None (noted)."""
    raw = der.bits(tlv, "timeInfo", notes)
    try:
        return der.time_text(raw, "timeInfo", notes)
    except (UnicodeDecodeError, ValueError, MalformedSeal):
        notes.append("timeInfo: unreadable v1 time")
        return None


def decode_signature(data: bytes) -> SealSignature:
    """Decode a SES_Signature (``SignedValue.dat``), v4 or v1; raise ``MalformedSeal``."""
    top = der.parse(bytes(data), "SES_Signature", max_length=MAX_SIGNATURE_BYTES)
    parts = der.sequence(top, "SES_Signature", (2, 4, 5))
    notes: list[str] = []
    if len(parts) == 2:
        return _decode_v1_signature(top, parts, notes)
    tbs = der.sequence(parts[0], "TBS_Sign", (5, 6))
    seal = _cached_seal(tbs[1])
    extensions: tuple[Extension, ...] = ()
    if len(tbs) == 6:
        ext = tbs[5]
        if ext.cls != 2 or ext.number != 0 or not ext.constructed:
            raise MalformedSeal(f"{ext.path}: [0] extDatas expected")
        (inner,) = ext.children() or [None]  # type: ignore[list-item]
        extensions = _extensions(inner, notes)
    timestamp = None
    if len(parts) == 5:
        stamp = parts[4]
        if stamp.cls != 2 or stamp.number != 0 or not stamp.constructed:
            raise MalformedSeal(f"{stamp.path}: [0] timeStamp expected")
        children = stamp.children()
        if len(children) != 1:
            raise MalformedSeal(f"{stamp.path}: [0] timeStamp expected")
        timestamp = der.bits(children[0], "timeStamp", notes)
    version = der.integer(tbs[0], "TBS_Sign version")
    if version != SealVersion.V4:
        notes.append(f"TBS_Sign.version is {version}, not 4")
    return SealSignature(
        version=SealVersion.V4,
        seal=seal,
        time_info=der.time(tbs[2], "timeInfo", notes),
        data_hash=der.bits(tbs[3], "dataHash", notes),
        property_info=der.text(tbs[4], der.IA5_STRING, "propertyInfo"),
        signer_cert=der.octets(parts[1], "signer cert"),
        sign_alg=der.oid(parts[2], "signatureAlgID"),
        signature=der.bits(parts[3], "signature", notes),
        timestamp=timestamp,
        tbs_der=parts[0].raw,
        der=top.raw,
        extensions=extensions,
        leniencies=tuple(notes),
    )


def _decode_v1_signature(top: Tlv, parts: list[Tlv], notes: list[str]) -> SealSignature:
    """GM/T 0031 v1: TBS_Sign { version, eseal, timeInfo, dataHash, propertyInfo, cert, alg }."""
    tbs = der.sequence(parts[0], "TBS_Sign", (7, 8))
    seal = _cached_seal(tbs[1])
    der.integer(tbs[0], "TBS_Sign version")
    return SealSignature(
        version=SealVersion.V1,
        seal=seal,
        time_info=_v1_time(tbs[2], notes),
        data_hash=der.bits(tbs[3], "dataHash", notes),
        property_info=der.text(tbs[4], der.IA5_STRING, "propertyInfo"),
        signer_cert=der.octets(tbs[5], "signer cert"),
        sign_alg=der.oid(tbs[6], "signatureAlgorithm"),
        signature=der.bits(parts[1], "signature", notes),
        timestamp=None,
        tbs_der=parts[0].raw,
        der=top.raw,
        leniencies=tuple(notes),
    )


# ---- encoders (v4, strict) ---------------------------------------------------------------


def encode_extensions(extensions: tuple[Extension, ...]) -> bytes:
    """ExtensionDatas, critical omitted when FALSE (DER DEFAULT rule, X.690 §11.5)."""
    return der.seq(
        *(
            der.seq(
                der.enc_oid(e.oid),
                *([der.enc_bool(True)] if e.critical else []),
                der.enc_octets(e.value),
            )
            for e in extensions
        )
    )


def encode_seal_info(info: SealInfo) -> bytes:
    """DER(SES_SealInfo) of GB/T 38540 §7.1."""
    prop = info.property
    if prop.cert_list_type is CertListType.CERTS:
        cert_list = der.seq(*(der.enc_octets(c) for c in prop.certs))
    else:
        cert_list = der.seq(
            *(
                der.seq(der.enc_printable(d.algorithm), der.enc_octets(d.value))
                for d in prop.cert_digests
            )
        )
    property_der = der.seq(
        der.enc_integer(prop.type),
        der.enc_utf8(prop.name),
        der.enc_integer(int(prop.cert_list_type)),
        cert_list,
        der.enc_generalized_time(prop.create_date),
        der.enc_generalized_time(prop.valid_start),
        der.enc_generalized_time(prop.valid_end),
    )
    pic = info.picture
    picture_der = der.seq(
        der.enc_ia5(pic.type),
        der.enc_octets(pic.data),
        der.enc_integer(pic.width_mm),
        der.enc_integer(pic.height_mm),
    )
    header = der.seq(
        der.enc_ia5(info.header_id), der.enc_integer(info.version), der.enc_ia5(info.vendor_id)
    )
    extensions = [encode_extensions(info.extensions)] if info.extensions else []
    return der.seq(header, der.enc_ia5(info.es_id), property_der, picture_der, *extensions)


def maker_tbs(info_der: bytes, maker_cert: bytes, sign_alg: str, coverage: MakerCoverage) -> bytes:
    """The bytes the maker signs under ``coverage``."""
    if coverage is MakerCoverage.SEAL_INFO:
        return info_der
    return der.seq(info_der, der.enc_octets(maker_cert), der.enc_oid(sign_alg))


def encode_seal(info_der: bytes, maker_cert: bytes, sign_alg: str, signed_value: bytes) -> bytes:
    """DER(SESeal) v4."""
    return der.seq(
        info_der, der.enc_octets(maker_cert), der.enc_oid(sign_alg), der.enc_bits(signed_value)
    )


def encode_tbs_sign(
    seal_der: bytes,
    time_info: datetime,
    data_hash: bytes,
    property_info: str,
    extensions: tuple[Extension, ...] = (),
) -> bytes:
    """DER(TBS_Sign) v4; ``seal_der`` is embedded byte for byte."""
    ext = [der.explicit(0, encode_extensions(extensions))] if extensions else []
    return der.seq(
        der.enc_integer(4),
        seal_der,
        der.enc_generalized_time(time_info),
        der.enc_bits(data_hash),
        der.enc_ia5(property_info),
        *ext,
    )


def encode_signature(
    tbs_der: bytes,
    signer_cert: bytes,
    sign_alg: str,
    signature: bytes,
    timestamp: bytes | None = None,
) -> bytes:
    """DER(SES_Signature) v4, with the optional [0] EXPLICIT timeStamp."""
    stamp = [der.explicit(0, der.enc_bits(timestamp))] if timestamp is not None else []
    return der.seq(
        tbs_der, der.enc_octets(signer_cert), der.enc_oid(sign_alg), der.enc_bits(signature), *stamp
    )
