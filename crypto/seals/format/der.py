"""A small, bounded DER reader and a strict DER writer for the seal structures.

Why not asn1crypto's lazy classes: seal verification needs the exact bytes of nested parts
(the maker signs DER(SES_SealInfo), the signer signs DER(TBS_Sign), Seal.esl is compared with
the embedded SESeal byte for byte), a precise path in every error, and input leniencies
(OCTET STRING for BIT STRING, UTCTime for GeneralizedTime) that are *reported*, not silently
accepted. Reading is iterative over one level at a time with hard limits on depth, element
count and length, so hostile input costs bounded time and memory (ITU-T X.690 §8.1, §10).
"""

# ruff: noqa: PLR2004 - octet values and field widths are X.690 / X.680 constants, named in comments
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

from crypto.seals.format.errors import MalformedSeal

# Universal tag numbers (X.680 §8.4).
BOOLEAN, INTEGER, BIT_STRING, OCTET_STRING, NULL, OID = 1, 2, 3, 4, 5, 6
UTF8_STRING, SEQUENCE, SET, PRINTABLE_STRING, IA5_STRING = 12, 16, 17, 19, 22
UTC_TIME, GENERALIZED_TIME = 23, 24

MAX_DEPTH = 24
MAX_CHILDREN = 4096
BEIJING = timezone(timedelta(hours=8))


class Tlv(NamedTuple):
    """One DER element: tag class (0 universal … 3 private), constructed flag, tag number.

    ``path`` (for error messages) is built only when asked: elements are many, errors few.
    """

    cls: int
    constructed: bool
    number: int
    content: bytes
    raw: bytes
    parent: Tlv | str
    position: int
    depth: int

    @property
    def path(self) -> str:
        """Where the element is, e.g. ``SES_Signature[0][1]``."""
        return _path(self.parent, self.position)

    def is_universal(self, number: int) -> bool:
        """True for the universal tag ``number``."""
        return self.cls == 0 and self.number == number

    def children(self) -> list[Tlv]:
        """The elements of a constructed value, in order (bounded count and depth)."""
        if not self.constructed:
            raise MalformedSeal(f"{self.path}: expected a constructed value")
        if self.depth >= MAX_DEPTH:
            raise MalformedSeal(f"{self.path}: nested too deeply")
        out: list[Tlv] = []
        data, pos, depth, size = self.content, 0, self.depth + 1, len(self.content)
        while pos < size:
            index = len(out)
            if index >= MAX_CHILDREN:
                raise MalformedSeal(f"{self.path}: too many elements")
            first = data[pos]
            if first & 0x1F != 0x1F and pos + 1 < size and data[pos + 1] < 0x80:
                body, end = pos + 2, pos + 2 + data[pos + 1]  # low tag, short length
                if end > size:
                    raise MalformedSeal(f"{_path(self, index)}: truncated value")
                cls, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
            else:
                cls, constructed, number, body, length = _read_header(data, pos, self, index)
                end = body + length
            out.append(
                Tlv(cls, constructed, number, data[body:end], data[pos:end], self, index, depth)
            )
            pos = end
        return out


def _read_header(  # noqa: PLR0912
    data: bytes, pos: int, parent: Tlv | str, index: int
) -> tuple[int, bool, int, int, int]:
    """Identifier and length octets (X.690 §8.1.2, §8.1.3, §10.1): definite, minimal.

    Errors name the element as ``Tlv.path`` would (``parent``, ``index``).
    """
    end = len(data)
    if pos >= end:
        raise MalformedSeal(f"{_path(parent, index)}: truncated")
    first = data[pos]
    pos += 1
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        for count in range(5):
            if pos >= end:
                raise MalformedSeal(f"{_path(parent, index)}: truncated tag")
            octet = data[pos]
            pos += 1
            if count == 0 and octet == 0x80:
                raise MalformedSeal(f"{_path(parent, index)}: non-minimal tag")
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
        else:
            raise MalformedSeal(f"{_path(parent, index)}: tag number too large")
    if pos >= end:
        raise MalformedSeal(f"{_path(parent, index)}: truncated length")
    octet = data[pos]
    pos += 1
    if octet < 0x80:
        length = octet
    elif octet == 0x80:
        raise MalformedSeal(f"{_path(parent, index)}: indefinite length is not DER")
    else:
        count = octet & 0x7F
        if count > 4 or pos + count > end:
            raise MalformedSeal(f"{_path(parent, index)}: bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        if length < 0x80 or data[pos - count] == 0:
            raise MalformedSeal(f"{_path(parent, index)}: non-minimal length")
    if pos + length > end:
        raise MalformedSeal(f"{_path(parent, index)}: truncated value")
    return first >> 6, bool(first & 0x20), number, pos, length


def _path(parent: Tlv | str, index: int) -> str:
    """``Tlv.path`` of the element ``index`` of ``parent`` (-1: ``parent`` names the element)."""
    base = parent if isinstance(parent, str) else parent.path
    return base if index < 0 else f"{base}[{index}]"


def parse(data: bytes, name: str, *, max_length: int) -> Tlv:
    """Parse exactly one element filling ``data``; trailing bytes are refused."""
    if len(data) > max_length:
        raise MalformedSeal(f"{name}: larger than {max_length} bytes")
    cls, constructed, number, body, length = _read_header(data, 0, name, -1)
    if body + length != len(data):
        raise MalformedSeal(f"{name}: trailing bytes after the value")
    return Tlv(cls, constructed, number, data[body:], data, name, -1, 0)


def expect(tlv: Tlv, number: int, what: str) -> Tlv:
    """``tlv`` must be universal ``number``; otherwise a MalformedSeal naming ``what``."""
    if not tlv.is_universal(number) or tlv.constructed != (number in (SEQUENCE, SET)):
        raise MalformedSeal(f"{tlv.path}: {what} expected")
    return tlv


def sequence(tlv: Tlv, what: str, sizes: tuple[int, ...]) -> list[Tlv]:
    """Children of a SEQUENCE whose element count is one of ``sizes``."""
    children = expect(tlv, SEQUENCE, what).children()
    if len(children) not in sizes:
        raise MalformedSeal(f"{tlv.path}: {what} has {len(children)} elements")
    return children


def integer(tlv: Tlv, what: str) -> int:
    """A minimally encoded INTEGER (X.690 §8.3), bounded to 64 bits for seal fields."""
    content = expect(tlv, INTEGER, what).content
    if not content or len(content) > 8:
        raise MalformedSeal(f"{tlv.path}: {what} out of range")
    if len(content) > 1 and (
        (content[0] == 0 and content[1] < 0x80) or (content[0] == 0xFF and content[1] >= 0x80)
    ):
        raise MalformedSeal(f"{tlv.path}: non-minimal INTEGER")
    return int.from_bytes(content, "big", signed=True)


def text(tlv: Tlv, number: int, what: str) -> str:
    """IA5String / PrintableString (ASCII) or UTF8String text."""
    content = expect(tlv, number, what).content
    try:
        return content.decode("utf-8" if number == UTF8_STRING else "ascii")
    except UnicodeDecodeError as exc:
        raise MalformedSeal(f"{tlv.path}: {what} is not valid text") from exc


def octets(tlv: Tlv, what: str) -> bytes:
    """OCTET STRING content."""
    return expect(tlv, OCTET_STRING, what).content


def bits(tlv: Tlv, what: str, notes: list[str]) -> bytes:
    """BIT STRING content with no unused bits; an OCTET STRING is accepted and noted."""
    if tlv.is_universal(OCTET_STRING) and not tlv.constructed:
        notes.append(f"{what}: OCTET STRING where BIT STRING is expected")
        return tlv.content
    content = expect(tlv, BIT_STRING, what).content
    if not content or content[0] != 0:
        raise MalformedSeal(f"{tlv.path}: {what} has unused bits")
    return content[1:]


def oid(tlv: Tlv, what: str) -> str:
    """OBJECT IDENTIFIER in dotted form (X.690 §8.19)."""
    content = expect(tlv, OID, what).content
    if not content or content[-1] & 0x80 or len(content) > 64:
        raise MalformedSeal(f"{tlv.path}: bad {what}")
    arcs: list[int] = []
    value = 0
    for index, octet in enumerate(content):
        if value == 0 and octet == 0x80 and (index == 0 or not content[index - 1] & 0x80):
            raise MalformedSeal(f"{tlv.path}: non-minimal {what}")
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def boolean(tlv: Tlv, what: str) -> bool:
    """BOOLEAN; DER requires 0x00 or 0xFF (X.690 §11.1)."""
    content = expect(tlv, BOOLEAN, what).content
    if content not in (b"\x00", b"\xff"):
        raise MalformedSeal(f"{tlv.path}: bad {what}")
    return content == b"\xff"


def time(tlv: Tlv, what: str, notes: list[str], *, want: int = GENERALIZED_TIME) -> datetime:
    """GeneralizedTime or UTCTime as an aware datetime; the other kind is accepted and noted.

    GeneralizedTime without a zone designator (local time, X.680 §46.3 a) is read as Beijing
    time (UTC+08:00), the local time of the seal systems that emit it, and noted.
    """
    if tlv.cls != 0 or tlv.number not in (UTC_TIME, GENERALIZED_TIME) or tlv.constructed:
        raise MalformedSeal(f"{tlv.path}: {what} is not a time")
    if tlv.number != want:
        kind = "UTCTime" if tlv.number == UTC_TIME else "GeneralizedTime"
        notes.append(
            f"{what}: {kind} where {'UTCTime' if want == UTC_TIME else 'GeneralizedTime'} is expected"
        )
    try:
        value = tlv.content.decode("ascii")
        return _parse_time(value, tlv.number == UTC_TIME, what, notes)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedSeal(f"{tlv.path}: bad {what}") from exc


_DASHED = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


def time_text(raw: bytes, what: str, notes: list[str]) -> datetime:
    """A time carried as bytes (GM/T 0031 v1 ``timeInfo`` BIT STRING), as an aware datetime.

    Accepted: UTCTime text (``YYMMDDHHMM[SS]`` + zone, X.680 §47), GeneralizedTime text
    (``YYYYMMDDHHMMSS[.f]`` + zone, X.680 §46), either one DER-encoded (tag, length, text),
    and ofdrw's zone-less ``yyyy-MM-dd HH:mm:ss`` (its v1 container writes the JVM's local
    time): that one is read as Beijing time (UTC+08:00) and noted. Raises ``ValueError``.
    """
    if raw[:1] in (bytes([UTC_TIME]), bytes([GENERALIZED_TIME])):
        inner = parse(raw, what, max_length=64)
        return time(inner, what, notes, want=inner.number)
    value = raw.decode("ascii")
    dashed = _DASHED.fullmatch(value)
    if dashed:
        notes.append(f"{what}: text time {value!r} without a zone, read as UTC+08:00")
        year, month, day, hour, minute, second = (int(f) for f in dashed.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=BEIJING).astimezone(UTC)
    digits = len(value) - len(value.lstrip("0123456789"))
    return _parse_time(value, digits in (10, 12), what, notes)


def _parse_time(value: str, utc_time: bool, what: str, notes: list[str]) -> datetime:
    zone = UTC
    if value.endswith("Z"):
        value = value[:-1]
    elif len(value) >= 5 and value[-5] in "+-":
        sign = 1 if value[-5] == "+" else -1
        offset = timedelta(hours=int(value[-4:-2]), minutes=int(value[-2:]))
        zone = timezone(sign * offset)
        value = value[:-5]
        notes.append(f"{what}: time with a UTC offset")
    else:
        zone = BEIJING
        notes.append(f"{what}: time without a zone, read as UTC+08:00")
    if utc_time:
        year = int(value[:2])
        value = f"{1900 + year if year >= 50 else 2000 + year}{value[2:]}"
    main, _, fraction = value.partition(".")
    if not main.isdigit() or len(main) not in (12, 14) or (fraction and not fraction.isdigit()):
        raise ValueError("bad time")
    fields = [int(main[i : i + 2]) for i in range(4, len(main), 2)]
    second = fields[4] if len(fields) == 5 else 0
    micro = int((fraction + "000000")[:6]) if fraction else 0
    month, day, hour, minute = fields[:4]
    parsed = datetime(int(main[:4]), month, day, hour, minute, second, micro, tzinfo=zone)
    return parsed.astimezone(UTC)


# ---- writer (strict DER) -------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One element with identifier octet ``tag`` (low tag numbers only)."""
    return bytes([tag]) + _length(len(content)) + content


def seq(*parts: bytes) -> bytes:
    """SEQUENCE of already encoded parts."""
    return tlv(0x30, b"".join(parts))


def enc_integer(value: int) -> bytes:
    """INTEGER, minimal two's complement."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def enc_ia5(value: str) -> bytes:
    """IA5String (ASCII only)."""
    return tlv(IA5_STRING, value.encode("ascii"))


def enc_utf8(value: str) -> bytes:
    """UTF8String."""
    return tlv(UTF8_STRING, value.encode("utf-8"))


def enc_printable(value: str) -> bytes:
    """PrintableString."""
    return tlv(PRINTABLE_STRING, value.encode("ascii"))


def enc_octets(value: bytes) -> bytes:
    """OCTET STRING."""
    return tlv(OCTET_STRING, value)


def enc_bits(value: bytes) -> bytes:
    """BIT STRING with no unused bits."""
    return tlv(BIT_STRING, b"\x00" + value)


def enc_bool(value: bool) -> bytes:
    """BOOLEAN."""
    return tlv(BOOLEAN, b"\xff" if value else b"\x00")


def enc_oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        rest = arc >> 7
        chunk = [arc & 0x7F]
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def enc_generalized_time(value: datetime) -> bytes:
    """GeneralizedTime in UTC with whole seconds and "Z" (X.690 §11.7)."""
    if value.tzinfo is None:
        raise ValueError("time must be timezone-aware")
    return tlv(GENERALIZED_TIME, value.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


def explicit(number: int, content: bytes) -> bytes:
    """[number] EXPLICIT (context-specific, constructed)."""
    return tlv(0xA0 | number, content)
