"""Fixtures of the preview tests: a sample seal and small OFD packages built to order."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from crypto.seals.format import StampPosition, sign_ofd
from crypto.seals.format.package import OFD_NS, write_package
from crypto.seals.format.testing import SampleSeal, make_sample_seal

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = f'xmlns:ofd="{OFD_NS}"'


@pytest.fixture(scope="session")
def sample() -> SampleSeal:
    return make_sample_seal(NOW)


def text_object(text: str, *, oid: int = 5, x: float = 20, y: float = 20, extra: str = "") -> str:
    """A TextObject whose TextCode is ``text`` (already XML-escaped by the caller)."""
    return (
        f'<ofd:TextObject ID="{oid}" Boundary="{x} {y} 150 10" Font="3" Size="5" {extra}>'
        f'<ofd:FillColor Value="200 0 0"/><ofd:TextCode X="0" Y="5">{text}</ofd:TextCode>'
        "</ofd:TextObject>"
    )


def make_ofd(
    *pages: str,
    resources: str = "",
    files: dict[str, bytes] | None = None,
    box: str = "0 0 210 297",
    document_extra: str = "",
) -> bytes:
    """An OFD package whose n-th page's Layer holds ``pages[n]`` (object markup)."""
    ofd = (
        f'{HEAD}<ofd:OFD {NS} Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
        "<ofd:Creator>test</ofd:Creator></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml"
        "</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
    )
    listed = "".join(
        f'<ofd:Page ID="{100 + n}" BaseLoc="Pages/Page_{n}/Content.xml"/>'
        for n in range(len(pages))
    )
    document = (
        f"{HEAD}<ofd:Document {NS}><ofd:CommonData><ofd:MaxUnitID>999</ofd:MaxUnitID>"
        f"<ofd:PageArea><ofd:PhysicalBox>{box}</ofd:PhysicalBox></ofd:PageArea>"
        f"<ofd:PublicRes>PublicRes.xml</ofd:PublicRes>{document_extra}</ofd:CommonData>"
        f"<ofd:Pages>{listed}</ofd:Pages></ofd:Document>"
    )
    public_res = (
        f'{HEAD}<ofd:Res {NS} BaseLoc="Res"><ofd:Fonts><ofd:Font ID="3" FontName="宋体" '
        f'FamilyName="宋体"/></ofd:Fonts>{resources}</ofd:Res>'
    )
    entries = {
        "OFD.xml": ofd.encode(),
        "Doc_0/Document.xml": document.encode(),
        "Doc_0/PublicRes.xml": public_res.encode(),
    }
    for n, objects in enumerate(pages):
        entries[f"Doc_0/Pages/Page_{n}/Content.xml"] = (
            f'{HEAD}<ofd:Page {NS}><ofd:Content><ofd:Layer ID="4">{objects}</ofd:Layer>'
            "</ofd:Content></ofd:Page>"
        ).encode()
    entries.update(files or {})
    return write_package(entries)


def sign(sample: SampleSeal, data: bytes, position: StampPosition | None = None) -> bytes:
    return sign_ofd(
        data, seal=sample.seal, key=sample.key, cert=sample.cert, now=NOW, position=position
    )


def parse(svg: str) -> ET.Element:
    """The SVG document, parsed (fails the test if it is not well-formed)."""
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    assert "<!" not in svg
    return ET.fromstring(svg.encode("utf-8"))  # noqa: S314 - our own output, checked for no DTD


def stamps(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "stamp"]
