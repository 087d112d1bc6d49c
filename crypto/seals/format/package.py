"""Safe reading and writing of OFD packages (GB/T 33190-2016 §7.4: a ZIP container).

Everything a hostile ZIP can do is bounded before bytes are inflated: the package size, the
number of entries, each entry's declared size, the total declared size and the compression
ratio; while inflating, the actual size is bounded by the declared one (a lying header cannot
make us read more). Names must be relative POSIX paths without ``..``, NUL, backslashes or
duplicates (after normalisation), and only stored or deflated, unencrypted entries are
accepted. Any violation raises ``UnsafePackage``; a non-ZIP raises ``MalformedSeal``.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass

from crypto.seals.format.errors import MalformedSeal, UnsafePackage

OFD_NS = "http://www.ofdspec.org/2016"
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    ValueError,
    struct.error,
    OSError,
    NotImplementedError,
    RuntimeError,
    KeyError,
    IndexError,
)


@dataclass(frozen=True)
class Limits:
    """Bounds on an OFD package; defaults fit real documents with a wide margin."""

    max_package_bytes: int = 64 * 1024 * 1024
    max_entries: int = 4096
    max_entry_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200
    ratio_floor_bytes: int = 1024 * 1024
    max_xml_bytes: int = 8 * 1024 * 1024


DEFAULT_LIMITS = Limits()


def normalise(name: str) -> str:
    """A safe relative entry name, or ``UnsafePackage``."""
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name)
    ):
        raise UnsafePackage("entry name is absolute or has forbidden characters")
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or norm.startswith("/") or norm == ".":
        raise UnsafePackage("entry name escapes the package")
    return norm


def resolve(loc: str, base_dir: str = "") -> str:
    """An OFD ST_Loc (absolute "/Doc_0/…" or relative to ``base_dir``) as an entry name."""
    loc = loc.strip()
    if not loc:
        raise MalformedSeal("empty package location")
    joined = loc[1:] if loc.startswith("/") else posixpath.join(base_dir, loc)
    return normalise(joined)


def _check_entry(info: zipfile.ZipInfo, limits: Limits) -> None:
    if info.flag_bits & 0x1:
        raise UnsafePackage("encrypted entries are not accepted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafePackage("only stored or deflated entries are accepted")
    if info.file_size > limits.max_entry_bytes:
        raise UnsafePackage("an entry is larger than the limit")
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        raise UnsafePackage("an entry's compression ratio is suspicious (zip bomb)")


def read_package(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Entry name → bytes, in archive order; directories skipped."""
    if len(data) > limits.max_package_bytes:
        raise UnsafePackage("the package is larger than the limit")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise MalformedSeal("not an OFD (ZIP) package") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise UnsafePackage("too many entries in the package")
        total = 0
        for info in infos:
            if not info.filename:
                raise UnsafePackage("an entry has an empty name")
            _check_entry(info, limits)
            total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafePackage("the package's total size is larger than the limit")
        entries: dict[str, bytes] = {}
        for info in infos:
            if info.is_dir():
                continue
            name = normalise(info.filename)
            if name in entries:
                raise UnsafePackage("duplicate entry names in the package")
            entries[name] = _read_entry(archive, info)
    return entries


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Inflate at most the declared size (+1 to catch a lie); zipfile checks the CRC."""
    try:
        with archive.open(info) as stream:
            content = stream.read(info.file_size + 1)
            extra = stream.read(1) if len(content) == info.file_size else b""
    except _ZIP_ERRORS as exc:
        raise MalformedSeal("a package entry is corrupt") from exc
    if len(content) != info.file_size or extra:
        raise UnsafePackage("an entry's size differs from its declared size")
    return content


def write_package(entries: dict[str, bytes]) -> bytes:
    """A ZIP of ``entries`` in the given order, deflated, with fixed timestamps."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            info = zipfile.ZipInfo(normalise(name), date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return out.getvalue()


def parse_xml(content: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> ET.Element:
    """Parse a package XML file; a DTD (entity expansion, external entities) is refused."""
    if len(content) > limits.max_xml_bytes:
        raise UnsafePackage(f"{name} is larger than the XML limit")
    if _DTD.search(content):
        raise UnsafePackage(f"{name} has a DTD or entity declarations")
    try:
        return ET.fromstring(content)  # noqa: S314 - no DTD, so no entity expansion
    except ET.ParseError as exc:
        raise MalformedSeal(f"{name} is not well-formed XML") from exc
    except LookupError as exc:  # an XML declaration naming an encoding Python does not know
        raise MalformedSeal(f"{name} declares an unknown encoding") from exc


def local(tag: str) -> str:
    """An element's local name, whatever its namespace."""
    return tag.rsplit("}", 1)[-1]


def child(element: ET.Element, name: str) -> ET.Element | None:
    """First child with local name ``name``."""
    return next((c for c in element if local(c.tag) == name), None)


def children(element: ET.Element, name: str) -> list[ET.Element]:
    """Children with local name ``name``."""
    return [c for c in element if local(c.tag) == name]


def text_of(element: ET.Element | None) -> str:
    """Stripped text of an element ('' when absent)."""
    return (element.text or "").strip() if element is not None else ""
