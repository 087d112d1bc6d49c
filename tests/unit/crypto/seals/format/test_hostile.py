"""Hostile packages and pictures: a clear error or an invalid report, bounded, never a crash."""

from __future__ import annotations

import io
import zipfile

import pytest

from crypto.seals.format import (
    InvalidPicture,
    Limits,
    MalformedSeal,
    Picture,
    UnsafePackage,
    make_picture,
    verify_any,
    verify_ofd,
)
from crypto.seals.format.package import read_package, resolve
from crypto.seals.format.picture import check_picture
from crypto.seals.format.testing import minimal_ofd, tiny_png
from tests.paths import TESTS

from .conftest import statuses


def _zip(entries: list[tuple[str, bytes]], method=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, content in entries:
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    return out.getvalue()


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/passwd", "Doc_0/../../x", "C:/x", "a\\b"])
def test_path_traversal_is_refused(name):
    with pytest.raises(UnsafePackage):
        read_package(_zip([("OFD.xml", b"<x/>"), (name, b"x")]))


def test_locations_cannot_escape():
    assert resolve("/Doc_0/Signs/Sign_0/Seal.esl") == "Doc_0/Signs/Sign_0/Seal.esl"
    assert resolve("Seal.esl", "Doc_0/Signs/Sign_0") == "Doc_0/Signs/Sign_0/Seal.esl"
    with pytest.raises(UnsafePackage):
        resolve("../../../x", "Doc_0")


def test_duplicate_entries_are_refused():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = _zip([("OFD.xml", b"<a/>"), ("OFD.xml", b"<b/>")])
    with pytest.raises(UnsafePackage, match="duplicate"):
        read_package(data)


def test_zip_bomb_ratio_is_refused_before_inflating():
    bomb = _zip([("OFD.xml", b"\x00" * (20 * 1024 * 1024))])
    with pytest.raises(UnsafePackage, match="ratio"):
        read_package(bomb)


def test_size_limits():
    data = _zip([(f"f{i}", b"x") for i in range(20)])
    with pytest.raises(UnsafePackage, match="too many"):
        read_package(data, Limits(max_entries=10))
    with pytest.raises(UnsafePackage, match="total"):
        read_package(
            _zip([("a", b"x" * 600), ("b", b"y" * 600)], zipfile.ZIP_STORED),
            Limits(max_total_bytes=1000),
        )
    with pytest.raises(UnsafePackage, match="larger than the limit"):
        read_package(b"PK" + b"\x00" * 100, Limits(max_package_bytes=50))


def test_lying_declared_size_is_caught():
    data = bytearray(_zip([("OFD.xml", b"A" * 1000)], zipfile.ZIP_STORED))
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # uncompressed size in the CD
    with pytest.raises((UnsafePackage, MalformedSeal)):
        read_package(bytes(data))


def test_encrypted_and_unknown_methods_are_refused():
    data = bytearray(_zip([("OFD.xml", b"<a/>")], zipfile.ZIP_STORED))
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 1  # general purpose flag: encrypted
    with pytest.raises(UnsafePackage, match="encrypted"):
        read_package(bytes(data))


def test_dtd_and_entities_are_refused(opts):
    billion = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&a;</ofd:OFD>'
    report = verify_ofd(_zip([("OFD.xml", billion)]), opts)
    assert str(report.status) == "invalid"
    assert "DTD" in report.checks[0].reason


def test_an_unknown_xml_encoding_gives_an_invalid_report(opts):
    declared = (
        b'<?xml version="1.0" encoding="ATF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>'
    )
    report = verify_ofd(_zip([("OFD.xml", declared)]), opts)
    assert str(report.status) == "invalid"
    assert "unknown encoding" in report.checks[0].reason


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04garbage",
        b"not a zip at all",
        _zip([("readme.txt", b"hi")]),
        _zip([("OFD.xml", b"<unclosed")]),
    ],
)
def test_junk_gives_an_invalid_report(data, opts):
    report = verify_any(data, opts) if data[:2] != b"PK" else verify_ofd(data, opts)
    assert str(report.status) == "invalid"


def test_truncated_signed_ofd_never_crashes(sample, opts):
    from crypto.seals.format import sign_ofd

    from .conftest import NOW

    signed = sign_ofd(minimal_ofd(), seal=sample.seal, key=sample.key, cert=sample.cert, now=NOW)
    for cut in range(0, len(signed), max(1, len(signed) // 40)):
        report = verify_ofd(signed[:cut], opts)
        assert str(report.status) == "invalid"


def test_truncated_seal_never_crashes(sample, opts):
    der = sample.seal.der
    for cut in range(0, len(der), 97):
        assert statuses(verify_any(der[:cut], opts))["structure"] == "fail"


def test_pictures():
    png = make_picture(tiny_png(), 40, 40)
    assert check_picture(png).pixels == (4, 4)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>'
    assert make_picture(svg, 40, 40).type == "SVG"
    jpeg = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffc0000b080020004001011100ffd9")
    assert check_picture(Picture("JPG", jpeg, 30, 30)).pixels == (64, 32)


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (Picture("PNG", b"GIF89a....", 40, 40), "content is unknown"),
        (Picture("JPG", tiny_png(), 40, 40), "declared JPG"),
        (Picture("BMP", b"BM", 40, 40), "unsupported"),
        (Picture("PNG", tiny_png(), 0, 40), "mm"),
        (Picture("PNG", tiny_png(100_000, 2), 40, 40), "pixels"),
        (Picture("PNG", b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024), 40, 40), "bytes"),
        (
            Picture(
                "SVG",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                9,
                9,
            ),
            "scripts",
        ),
        (Picture("SVG", b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', 9, 9), "event"),
        (
            Picture(
                "SVG",
                b'<svg xmlns="http://www.w3.org/2000/svg"><image href="http://x/y.png"/></svg>',
                9,
                9,
            ),
            "outside",
        ),
        (
            Picture("SVG", b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "b">]><svg/>', 9, 9),
            "DTD",
        ),
    ],
)
def test_bad_pictures_are_refused(picture, message):
    with pytest.raises(InvalidPicture, match=message):
        check_picture(picture)


def test_fuzz_regressions_give_reports(opts):
    """Inputs the fuzzer once crashed on (tests/fuzz/regressions, first byte = mode)."""

    folder = TESTS / "fuzz" / "regressions"
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()[1:]
        assert str(verify_ofd(data, opts).status) == "invalid", path.name
        assert str(verify_any(data, opts).status) == "invalid", path.name
