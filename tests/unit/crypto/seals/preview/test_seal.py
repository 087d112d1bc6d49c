"""Seal pictures: render_seal, and the placeholder for pictures a browser cannot show."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from crypto.seals.format import MalformedSeal, Picture
from crypto.seals.format.package import read_package, write_package
from crypto.seals.preview import render_seal, render_stamped_page
from crypto.seals.preview.model import DEFAULT_PREVIEW_LIMITS, Budget
from crypto.seals.preview.stamp import UNREADABLE, seal_svg
from crypto.seals.preview.svg import SEAL_RED

from .conftest import SVG, make_ofd, parse, sign, stamps, text_object


def _with_picture(seal, picture: Picture):
    info = dataclasses.replace(seal.info, picture=picture)
    return dataclasses.replace(seal, info=info)


def test_render_seal_shows_the_picture_and_the_name(sample):
    root = parse(render_seal(sample.seal.der))
    assert root.get("viewBox") == "0 0 40 48"
    (image,) = root.iter(f"{SVG}image")
    assert base64.b64decode(image.get("href").split(",", 1)[1]) == sample.seal.info.picture.data
    assert [t.text for t in root.iter(f"{SVG}text")] == ["福州市测试局 公章"]


def test_render_seal_refuses_what_is_not_a_seal():
    with pytest.raises(MalformedSeal):
        render_seal(b"\x30\x03\x02\x01\x01")


def test_an_ofd_format_picture_is_a_red_ring_with_the_name(sample):
    seal = _with_picture(sample.seal, Picture("OFD", b"PK\x03\x04...", 40, 40))
    root = parse(seal_svg(seal, Budget(DEFAULT_PREVIEW_LIMITS)))
    assert not list(root.iter(f"{SVG}image"))
    (circle,) = root.iter(f"{SVG}circle")
    assert circle.get("stroke") == SEAL_RED
    assert [t.text for t in root.iter(f"{SVG}text")].count("福州市测试局 公章") == 2


def test_a_seal_name_with_control_characters_still_gives_valid_xml(sample):
    property_ = dataclasses.replace(sample.seal.info.property, name="<b>\x00\x07 章&")
    seal = dataclasses.replace(
        sample.seal,
        info=dataclasses.replace(
            sample.seal.info, property=property_, picture=Picture("GIF", b"GIF89a", 40, 40)
        ),
    )
    root = parse(seal_svg(seal, Budget(DEFAULT_PREVIEW_LIMITS)))
    assert "<b> 章&" in [t.text for t in root.iter(f"{SVG}text")]


def test_a_stamp_whose_seal_does_not_decode_is_a_placeholder(sample):
    signed = sign(sample, make_ofd(text_object("x")))
    entries = read_package(signed)
    for name in list(entries):
        if name.endswith(("SignedValue.dat", "Seal.esl")):
            entries[name] = b"\x30\x00"
    root = parse(render_stamped_page(write_package(entries)))
    (stamp,) = stamps(root)
    assert list(stamp.iter(f"{SVG}circle"))
    assert [t.text for t in stamp.iter(f"{SVG}text")] == [UNREADABLE]


def test_the_seal_esl_is_the_fallback_for_a_broken_signed_value(sample):
    signed = sign(sample, make_ofd(text_object("x")))
    entries = read_package(signed)
    for name in list(entries):
        if name.endswith("SignedValue.dat"):
            entries[name] = b"garbage"
    (stamp,) = stamps(parse(render_stamped_page(write_package(entries))))
    assert list(stamp.iter(f"{SVG}image"))
