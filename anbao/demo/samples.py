"""Sample files of the demo: a round red seal picture and OFD documents with Chinese text.

The picture is drawn with Pillow (already installed with reportlab) in the project's Chinese
font (``compliance.pdf_font_file``, Debian ``fonts-wqy-zenhei``): a ring, a star and the
organisation's name along the upper arc, as official seals are laid out (GB/T 38540 §7.1 takes
the picture as PNG with its size in mm). The OFD documents are GB/T 33190 packages of one A4
page whose text objects carry real Chinese text, so a reader (ofdrw) shows them and a seal can
be placed on them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from crypto.seals.format.package import OFD_NS, write_package

SEAL_RED = (220, 20, 30, 255)
#: The family of the project's Chinese font (Debian fonts-wqy-zenhei, ``compliance.pdf_font_file``):
#: a reader finds it installed by name (ofdrw does); another substitutes its own CJK font. A
#: family the machine lacks (宋体 on Debian) is drawn as empty boxes by ofdrw.
FONT_FAMILY = "WenQuanYi Zen Hei"
_SIZE = 480  # pixels of the square picture (40 mm at ~300 dpi)


def seal_png(org_name: str, centre_text: str, font_file: str) -> bytes:
    """A round seal: ring, five-pointed star, ``org_name`` on the upper arc, ``centre_text``
    under the star; transparent outside the ring."""
    image = Image.new("RGBA", (_SIZE, _SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c, ring = _SIZE / 2, 14
    draw.ellipse((ring, ring, _SIZE - ring, _SIZE - ring), outline=SEAL_RED, width=ring)
    draw.polygon(_star(c, c, 70), fill=SEAL_RED)
    font = ImageFont.truetype(font_file, 52)
    _arc_text(image, org_name, font, radius=c - 62)
    small = ImageFont.truetype(font_file, 40)
    draw.text((c, c + 118), centre_text, font=small, fill=SEAL_RED, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy - radius * math.sin(angle)))
    return points


def _arc_text(image: Image.Image, text: str, font: ImageFont.FreeTypeFont, radius: float) -> None:
    """Each character upright towards the centre, spread over 240 degrees of the upper arc."""
    span = math.radians(240)
    step = span / max(len(text) - 1, 1)
    c = _SIZE / 2
    for i, char in enumerate(text):
        angle = math.pi / 2 + span / 2 - i * step  # from the left, clockwise over the top
        glyph = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((32, 32), char, font=font, fill=SEAL_RED, anchor="mm")
        glyph = glyph.rotate(math.degrees(angle - math.pi / 2), resample=Image.Resampling.BICUBIC)
        x = c + radius * math.cos(angle) - 32
        y = c - radius * math.sin(angle) - 32
        image.alpha_composite(glyph, (round(x), round(y)))


def text_ofd(title: str, lines: Sequence[str]) -> bytes:
    """A one-page A4 OFD (GB/T 33190 §7) with ``title`` and ``lines`` as text objects."""
    ns = f'xmlns:ofd="{OFD_NS}"'
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    ofd = (
        f'{head}<ofd:OFD {ns} Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
        f"<ofd:Title>{escape(title)}</ofd:Title><ofd:Creator>Anbao</ofd:Creator></ofd:DocInfo>"
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
    )
    texts = [(title, 8.0, 30.0, 20.0)] + [
        (line, 4.5, 20.0, 50.0 + 9.0 * i) for i, line in enumerate(lines)
    ]
    objects = "".join(
        f'<ofd:TextObject ID="{10 + i}" Boundary="{x} {y} 180 {size * 1.6:.1f}" Font="3" '
        f'Size="{size}"><ofd:TextCode X="0" Y="{size:.1f}" DeltaX="g {len(text) - 1} {size}">'
        f"{escape(text)}</ofd:TextCode></ofd:TextObject>"
        for i, (text, size, x, y) in enumerate(texts)
    )
    document = (
        f"{head}<ofd:Document {ns}><ofd:CommonData><ofd:MaxUnitID>{10 + len(texts)}"
        "</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox>"
        "</ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
        '<ofd:Pages><ofd:Page ID="2" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages>'
        "</ofd:Document>"
    )
    public_res = (
        f'{head}<ofd:Res {ns} BaseLoc="Res"><ofd:Fonts>'
        f'<ofd:Font ID="3" FontName="{FONT_FAMILY}" FamilyName="{FONT_FAMILY}"/></ofd:Fonts>'
        "</ofd:Res>"
    )
    content = (
        f'{head}<ofd:Page {ns}><ofd:Content><ofd:Layer ID="4">{objects}</ofd:Layer>'
        "</ofd:Content></ofd:Page>"
    )
    return write_package(
        {
            "OFD.xml": ofd.encode(),
            "Doc_0/Document.xml": document.encode(),
            "Doc_0/PublicRes.xml": public_res.encode(),
            "Doc_0/Pages/Page_0/Content.xml": content.encode(),
        }
    )
