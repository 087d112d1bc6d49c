"""Seal pictures (SES_ESPictrueInfo, GB/T 38540 §7.1): PNG, JPG or SVG with a size in mm.

Pictures are checked from their headers only, never decoded into pixels, so a "huge image"
costs nothing: the byte size and the declared pixel dimensions are bounded. SVG is XML that
browsers execute: it is refused when it has a DTD (entity expansion, external entities),
scripts, event handlers or references outside the document.
"""

# ruff: noqa: PLR2004 - header offsets are those of the PNG (RFC 2083) and JPEG (T.81) formats
from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from crypto.seals.format.errors import InvalidPicture
from crypto.seals.format.model import Picture

MAX_PICTURE_BYTES = 1024 * 1024
MAX_PIXELS_PER_SIDE = 8192
MAX_MM = 1000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_SVG_NS = "{http://www.w3.org/2000/svg}"
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_EXTERNAL = re.compile(r"^\s*(?!#)(?!data:image/(png|jpeg);)", re.IGNORECASE)


@dataclass(frozen=True)
class PictureInfo:
    """What a check learnt: normalised type and pixel size (None for SVG)."""

    type: str
    pixels: tuple[int, int] | None


def sniff(data: bytes) -> str | None:
    """The picture type the bytes are (PNG, JPG, SVG), or None."""
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPG"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<svg")) and b"<svg" in data[:4096]:
        return "SVG"
    return None


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise InvalidPicture("PNG without an IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise InvalidPicture("JPEG marker expected")
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if length < 2:
            raise InvalidPicture("bad JPEG segment length")
        pos += 2 + length
    raise InvalidPicture("JPEG without a frame header")


def _check_svg(data: bytes) -> None:
    if _DTD.search(data):
        raise InvalidPicture("SVG with a DTD or entity declarations")
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTD, so no entity expansion
    except ET.ParseError as exc:
        raise InvalidPicture("SVG is not well-formed XML") from exc
    if root.tag not in (f"{_SVG_NS}svg", "svg"):
        raise InvalidPicture("SVG root element is not <svg>")
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1].lower() in ("script", "foreignobject"):
            raise InvalidPicture("SVG with scripts or foreign objects")
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                raise InvalidPicture("SVG with event handlers")
            if local == "href" and _EXTERNAL.match(value):
                raise InvalidPicture("SVG referencing outside content")


def check_picture(picture: Picture) -> PictureInfo:
    """Check type, content, byte size and dimensions; raise ``InvalidPicture``."""
    kind = picture.type.upper()
    kind = "JPG" if kind == "JPEG" else kind
    if kind not in ("PNG", "JPG", "SVG"):
        raise InvalidPicture(f"unsupported picture type {picture.type[:16]!r}")
    if not picture.data or len(picture.data) > MAX_PICTURE_BYTES:
        raise InvalidPicture(f"picture must be 1 to {MAX_PICTURE_BYTES} bytes")
    if not (0 < picture.width_mm <= MAX_MM and 0 < picture.height_mm <= MAX_MM):
        raise InvalidPicture(f"picture width and height must be 1 to {MAX_MM} mm")
    actual = sniff(picture.data)
    if actual != kind:
        raise InvalidPicture(f"picture declared {kind} but its content is {actual or 'unknown'}")
    if kind == "SVG":
        _check_svg(picture.data)
        return PictureInfo(kind, None)
    return raster_info(picture.data)


def raster_info(data: bytes, max_side: int = MAX_PIXELS_PER_SIDE) -> PictureInfo:
    """Type and pixel size of a PNG or JPEG from its header, bounded per side; else
    ``InvalidPicture``. Also used for page images of OFD previews, never decoded here."""
    kind = sniff(data)
    if kind not in ("PNG", "JPG"):
        raise InvalidPicture("not a PNG or JPEG image")
    width, height = _png_size(data) if kind == "PNG" else _jpeg_size(data)
    if not (0 < width <= max_side and 0 < height <= max_side):
        raise InvalidPicture(f"picture must be 1 to {max_side} pixels per side")
    return PictureInfo(kind, (width, height))


def make_picture(data: bytes, width_mm: int, height_mm: int, kind: str | None = None) -> Picture:
    """A checked ``Picture``; the type is sniffed from the bytes unless given."""
    picture = Picture((kind or sniff(data) or "unknown").upper(), bytes(data), width_mm, height_mm)
    check_picture(picture)
    return picture
