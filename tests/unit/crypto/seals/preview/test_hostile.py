"""Hostile documents give a domain error with a stable code, bounded, never a crash."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from crypto.seals.format import MalformedSeal, UnsafePackage
from crypto.seals.format.package import read_package, write_package
from crypto.seals.format.testing import minimal_ofd, tiny_png
from crypto.seals.preview import PreviewLimits, PreviewTooLarge, render_stamped_page

from .conftest import SVG, make_ofd, parse, text_object

CONTENT = "Doc_0/Pages/Page_0/Content.xml"


def _replace(data: bytes, name: str, content: bytes) -> bytes:
    entries = read_package(data)
    entries[name] = content
    return write_package(entries)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header claiming ``width`` x ``height`` pixels (a decompression bomb's header)."""
    body = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    ihdr = (
        struct.pack(">I", len(body))
        + b"IHDR"
        + body
        + struct.pack(">I", zlib.crc32(b"IHDR" + body))
    )
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _image_ofd(content: bytes) -> bytes:
    media = (
        '<ofd:MultiMedias><ofd:MultiMedia ID="7" Type="Image"><ofd:MediaFile>i.png'
        "</ofd:MediaFile></ofd:MultiMedia></ofd:MultiMedias>"
    )
    obj = '<ofd:ImageObject ID="8" Boundary="0 0 10 10" ResourceID="7"/>'
    return make_ofd(obj, resources=media, files={"Doc_0/Res/i.png": content})


def test_a_zip_bomb_is_refused_before_inflating():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", b"<x/>")
        archive.writestr("Doc_0/bomb.bin", bytes(32 * 1024 * 1024))
    with pytest.raises(UnsafePackage) as caught:
        render_stamped_page(out.getvalue())
    assert caught.value.code == "seal_unsafe_package"


@pytest.mark.parametrize(
    "content",
    [b"<ofd:Page", b"\x00\x01garbage", b'<?xml version="1.0"?><a><b></a>'],
)
def test_bad_xml_is_a_malformed_seal_error(content):
    with pytest.raises(MalformedSeal) as caught:
        render_stamped_page(_replace(minimal_ofd(), CONTENT, content))
    assert caught.value.code == "seal_malformed"


def test_entity_expansion_is_refused():
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><p>&b;</p>'
    )
    with pytest.raises(UnsafePackage):
        render_stamped_page(_replace(minimal_ofd(), CONTENT, laughs))


def test_not_a_package_is_a_malformed_seal_error():
    with pytest.raises(MalformedSeal):
        render_stamped_page(b"%PDF-1.7 not an OFD")


def test_an_image_beyond_the_byte_limit_is_refused():
    data = _image_ofd(tiny_png(64, 64))
    limits = PreviewLimits(max_image_bytes=64)
    with pytest.raises(PreviewTooLarge) as caught:
        render_stamped_page(data, limits=limits)
    assert caught.value.code == "seal_preview_too_large"


def test_images_beyond_the_page_total_are_refused():
    png = tiny_png(8, 8)
    media = "".join(
        f'<ofd:MultiMedia ID="{n}" Type="Image"><ofd:MediaFile>i.png</ofd:MediaFile></ofd:MultiMedia>'
        for n in range(10, 20)
    )
    objects = "".join(
        f'<ofd:ImageObject ID="{n + 20}" Boundary="0 0 1 1" ResourceID="{n}"/>'
        for n in range(10, 20)
    )
    data = make_ofd(
        objects,
        resources=f"<ofd:MultiMedias>{media}</ofd:MultiMedias>",
        files={"Doc_0/Res/i.png": png},
    )
    with pytest.raises(PreviewTooLarge):
        render_stamped_page(data, limits=PreviewLimits(max_total_image_bytes=len(png) * 5))


def test_an_image_claiming_huge_dimensions_is_refused():
    with pytest.raises(PreviewTooLarge):
        render_stamped_page(_image_ofd(_png_claiming(100_000, 100_000)))


def test_too_many_objects_are_refused():
    data = make_ofd("".join(text_object("x", oid=n) for n in range(50)))
    with pytest.raises(PreviewTooLarge):
        render_stamped_page(data, limits=PreviewLimits(max_objects=20))


def test_deep_nesting_is_refused():
    depth = 200
    nested = "<ofd:PageBlock>" * depth + text_object("deep") + "</ofd:PageBlock>" * depth
    with pytest.raises(PreviewTooLarge):
        render_stamped_page(make_ofd(nested))


def test_too_much_text_is_refused():
    data = make_ofd(text_object("字" * 300_000))
    with pytest.raises(PreviewTooLarge):
        render_stamped_page(data)


def test_too_many_path_numbers_are_refused():
    path = "M 0 0 " + "L 1 1 " * 600
    obj = f'<ofd:PathObject ID="6" Boundary="0 0 5 5"><ofd:AbbreviatedData>{path}</ofd:AbbreviatedData></ofd:PathObject>'
    with pytest.raises(PreviewTooLarge):
        render_stamped_page(make_ofd(obj), limits=PreviewLimits(max_path_numbers=1000))


def test_too_many_pages_are_refused():
    data = make_ofd(*(text_object(str(n)) for n in range(5)))
    with pytest.raises(PreviewTooLarge):
        render_stamped_page(data, limits=PreviewLimits(max_pages=3))


@pytest.mark.parametrize(("repeat", "xs"), [("999999", "0 1"), ("1000000000000", "0")])
def test_a_huge_repeat_in_delta_x_costs_nothing(repeat, xs):
    code = f'<ofd:TextCode X="0" Y="5" DeltaX="g {repeat} 1">ab</ofd:TextCode>'
    obj = f'<ofd:TextObject ID="5" Boundary="0 0 50 10" Size="4">{code}</ofd:TextObject>'
    (text,) = parse(render_stamped_page(make_ofd(obj))).iter(f"{SVG}text")
    assert text.get("x") == xs


@pytest.mark.parametrize("value", ["nan 0 10 10", "inf 0 1 1", "1e400 0 1 1", "0 0 -5 5", "0 0"])
def test_bad_boundaries_are_skipped(value):
    obj = text_object("skipped").replace('Boundary="20 20 150 10"', f'Boundary="{value}"')
    root = parse(render_stamped_page(make_ofd(obj + text_object("kept", oid=9))))
    assert [t.text for t in root.iter(f"{SVG}text")] == ["kept"]


def test_a_media_file_outside_the_package_is_refused():
    media = (
        '<ofd:MultiMedias><ofd:MultiMedia ID="7" Type="Image"><ofd:MediaFile>../../../etc/passwd'
        "</ofd:MediaFile></ofd:MultiMedia></ofd:MultiMedias>"
    )
    with pytest.raises(UnsafePackage):
        render_stamped_page(make_ofd("", resources=media))


def test_control_characters_never_reach_the_svg():
    # XML 1.0 forbids them in the input, but a clean() slip must not yield an invalid SVG
    from crypto.seals.preview.svg import clean

    assert clean("a\x00b\x1bc\ufffed") == "abcd"


def test_the_default_image_limit_holds():
    import random

    noise = random.Random(19).randbytes(9 * 1024 * 1024)  # incompressible: not a zip bomb
    with pytest.raises(PreviewTooLarge) as caught:
        render_stamped_page(_image_ofd(tiny_png() + noise))
    assert "8388608 bytes" in caught.value.detail
