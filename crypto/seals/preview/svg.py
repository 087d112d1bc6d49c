"""SVG building blocks: numbers, colours and text from untrusted OFD input, made safe.

Every element of a preview is created here with ``xml.etree.ElementTree`` from values this
package parsed and re-formatted (numbers) or cleaned (text), so nothing of the input is
copied through as markup: ElementTree escapes text and attributes, and ``clean`` drops the
characters XML 1.0 §2.2 forbids (a seal name from DER may hold any code point).
"""

from __future__ import annotations

import base64
import math
import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
FONT_FAMILY = "'WenQuanYi Zen Hei', 'Noto Sans CJK SC', sans-serif"
SEAL_RED = "#dc141e"
MAX_COORD = 1e6
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SAFE_FAMILY = re.compile(r"^[\w .\-]{1,64}$")
_MIME = {"PNG": "image/png", "JPG": "image/jpeg", "SVG": "image/svg+xml"}
_RGB = 3
_CMYK = 4


def clean(text: str, limit: int = 10_000) -> str:
    """``text`` without characters XML cannot carry, at most ``limit`` characters."""
    return _NOT_XML.sub("", text[:limit])


def num(text: str | None) -> float | None:
    """A finite number within ±``MAX_COORD``, or None (NaN, infinities, garbage)."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) <= MAX_COORD else None


def nums(text: str | None, count: int) -> tuple[float, ...] | None:
    """Exactly ``count`` numbers separated by spaces, or None."""
    parts = (text or "").split()
    if len(parts) != count:
        return None
    values = tuple(num(p) for p in parts)
    return None if any(v is None for v in values) else tuple(v for v in values if v is not None)


def box(text: str | None) -> tuple[float, float, float, float] | None:
    """An OFD ST_Box "x y w h" (mm) with a non-negative size, or None."""
    values = nums(text, 4)
    if values is None or values[2] < 0 or values[3] < 0:
        return None
    return values[0], values[1], values[2], values[3]


def fmt(value: float) -> str:
    """A number as SVG writes it: at most three decimals, no exponent."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _component(text: str) -> int | None:
    try:
        value = int(text[1:], 16) if text.startswith("#") else round(float(text))
    except (ValueError, OverflowError):
        return None
    return min(max(value, 0), 255)


def color(element: ET.Element | None) -> str | None:
    """An OFD CT_Color's Value (gray, RGB or CMYK components 0-255) as "rgb(r,g,b)"."""
    if element is None:
        return None
    parts = [_component(p) for p in (element.get("Value") or "").split()[:5]]
    if not parts or any(p is None for p in parts):
        return None
    comps = [p for p in parts if p is not None]
    if len(comps) == _RGB:
        r, g, b = comps
    elif len(comps) == _CMYK:
        c, m, y, k = (v / 255 for v in comps)
        r, g, b = (round(255 * (1 - v) * (1 - k)) for v in (c, m, y))
    else:
        r = g = b = comps[0]
    return f"rgb({r},{g},{b})"


def family(name: str | None) -> str:
    """The font-family list, the document's own family first when its name is plain."""
    name = (name or "").strip()
    if _SAFE_FAMILY.match(name) and f"'{name}'" not in FONT_FAMILY:
        return f"'{name}', {FONT_FAMILY}"
    return FONT_FAMILY


def data_uri(kind: str, data: bytes) -> str:
    """A data: URI of a checked picture (PNG, JPG or SVG)."""
    return f"data:{_MIME[kind]};base64,{base64.b64encode(data).decode('ascii')}"


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child element with string attributes (``class_`` → ``class``, ``_`` → ``-``)."""
    element = ET.SubElement(
        parent, tag, {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
    )
    if text is not None:
        element.text = clean(text)
    return element


def root(x: float, y: float, width: float, height: float) -> ET.Element:
    """An ``<svg>`` whose user unit is the millimetre (OFD's unit, GB/T 33190 §6.2)."""
    return ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "version": "1.1",
            "width": f"{fmt(width)}mm",
            "height": f"{fmt(height)}mm",
            "viewBox": " ".join(fmt(v) for v in (x, y, width, height)),
            "font-family": FONT_FAMILY,
        },
    )


def seal_placeholder(
    parent: ET.Element, bounds: tuple[float, float, float, float], name: str
) -> ET.Element:
    """A red ring with the seal's name, for pictures a browser cannot show (OFD-format)."""
    x, y, w, h = bounds
    side = min(w, h)
    group = sub(parent, "g", class_="seal-placeholder")
    sub(
        group,
        "circle",
        cx=fmt(x + w / 2),
        cy=fmt(y + h / 2),
        r=fmt(max(side / 2 - side * 0.03, 0)),
        fill="none",
        stroke=SEAL_RED,
        stroke_width=fmt(side * 0.05),
    )
    label = clean(name, 40) or "?"
    size = min(side * 0.8 / max(len(label), 1), side / 6)
    sub(
        group,
        "text",
        label,
        x=fmt(x + w / 2),
        y=fmt(y + h / 2),
        font_size=fmt(size),
        fill=SEAL_RED,
        text_anchor="middle",
        dominant_baseline="middle",
    )
    return group


def serialise(svg: ET.Element) -> str:
    """The standalone document: XML declaration and the tree, escaped by ElementTree."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode")
