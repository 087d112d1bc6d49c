"""Page content of an OFD (GB/T 33190 §8-§13) drawn as SVG: text, simple paths, images.

What a reader needs to recognise the stamped page, not a full OFD renderer: TextObject
(TextCode X/Y with DeltaX/DeltaY, size, fill and stroke colour, font family), PathObject
(AbbreviatedData S/M/L/Q/B/A/C, with Z also read as a close), ImageObject (PNG or JPEG
multimedia, embedded as a data: URI) and PageBlock (nested, bounded in depth). Shading,
patterns, clipping, composite objects and other image formats are left out; an image that
cannot be shown is drawn as a grey box so the reader sees something is there.

Each graphic unit is placed by its Boundary (origin of its coordinates) and CTM (§8.3.1).
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from crypto.seals.format.errors import InvalidPicture
from crypto.seals.format.package import child, children, local
from crypto.seals.format.picture import raster_info, sniff
from crypto.seals.preview.errors import PreviewTooLarge
from crypto.seals.preview.model import Budget
from crypto.seals.preview.svg import box, clean, color, data_uri, family, fmt, num, nums, sub

XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
DEFAULT_LINE_WIDTH = 0.353  # mm, GB/T 33190 §9.1
_PATH_OPS = {
    "S": ("M", 2),
    "M": ("M", 2),
    "L": ("L", 2),
    "Q": ("Q", 4),
    "B": ("C", 6),
    "A": ("A", 7),
    "C": ("Z", 0),
    "Z": ("Z", 0),
}
_CAPS = {"Butt": "butt", "Round": "round", "Square": "square"}
_JOINS = {"Miter": "miter", "Round": "round", "Bevel": "bevel"}
_ARC_FLAGS = (3, 4)
_BLACK = "rgb(0,0,0)"


@dataclass(frozen=True)
class Resources:
    """Fonts (ID → family name) and multimedia (ID → package entry) a page may use."""

    fonts: Mapping[str, str]
    media: Mapping[str, str]


def deltas(text: str | None, count: int) -> list[float]:
    """Up to ``count`` advances of a DeltaX/DeltaY list, "g n v" expanded (§11.3)."""
    out: list[float] = []
    tokens = iter((text or "").split(maxsplit=3 * count + 1))
    for item in tokens:
        if len(out) >= count:
            break
        if item == "g":
            repeat, value = num(next(tokens, None)), num(next(tokens, None))
            if repeat is None or value is None or repeat < 0:
                break
            out.extend(itertools.repeat(value, min(int(repeat), count - len(out))))
            continue
        value = num(item)
        if value is None:
            break
        out.append(value)
    return out


def _positions(start: float, delta: str | None, count: int) -> str:
    values = itertools.accumulate(deltas(delta, count - 1), initial=start)
    return " ".join(fmt(v) for v in values)


def path_data(text: str | None, budget: Budget) -> str:
    """AbbreviatedData (§9.2, table 36) as SVG path data; stops at the first bad token."""
    remaining = max(budget.path_numbers, 0)
    tokens = (text or "").split(maxsplit=remaining)
    if len(tokens) > remaining:
        raise PreviewTooLarge(
            f"the page's paths have more than {budget.limits.max_path_numbers} coordinates"
        )
    budget.take_path_numbers(len(tokens))
    out: list[str] = []
    i = 0
    while i < len(tokens):
        op, count = _PATH_OPS.get(tokens[i], ("", -1))
        values = [num(t) for t in tokens[i + 1 : i + 1 + count]]
        if count < 0 or len(values) < count or any(v is None for v in values):
            break
        args = [fmt(v) for v in values if v is not None]
        if op == "A":
            args = [
                ("1" if a != "0" else "0") if n in _ARC_FLAGS else a for n, a in enumerate(args)
            ]
        out.append(" ".join([op, *args]))
        i += 1 + count
    return " ".join(out)


class Painter:
    """Draws the graphic units of a page's layers into an SVG group, within a budget."""

    def __init__(self, entries: Mapping[str, bytes], resources: Resources, budget: Budget) -> None:
        self.entries = entries
        self.resources = resources
        self.budget = budget

    def layers(self, parent: ET.Element, page: ET.Element) -> None:
        """Every Layer of a page's Content, Background first and Foreground last (§7.7)."""
        content = child(page, "Content")
        found = children(content, "Layer") if content is not None else []
        order = {"Background": 0, "Body": 1, "Foreground": 2}
        for layer in sorted(found, key=lambda item: order.get(item.get("Type", "Body"), 1)):
            self.block(parent, layer, 1)

    def block(self, parent: ET.Element, block: ET.Element, depth: int) -> None:
        """The objects of a Layer or PageBlock, in document order."""
        self.budget.check_depth(depth)
        for item in block:
            kind = local(item.tag)
            if kind not in ("TextObject", "PathObject", "ImageObject", "PageBlock"):
                continue
            self.budget.take_object()
            if kind == "PageBlock":
                self.block(sub(parent, "g"), item, depth + 1)
            elif item.get("Visible", "true") != "false":
                self._unit(parent, item, kind)

    def _unit(self, parent: ET.Element, item: ET.Element, kind: str) -> None:
        bounds = box(item.get("Boundary"))
        if bounds is None:
            return
        x, y, w, h = bounds
        transform = f"translate({fmt(x)} {fmt(y)})"
        ctm = nums(item.get("CTM"), 6)
        if ctm is None and kind == "ImageObject":
            ctm = (w, 0.0, 0.0, h, 0.0, 0.0)  # an image fills its unit square (§10.2)
        if ctm is not None:
            transform += f" matrix({' '.join(fmt(v) for v in ctm)})"
        group = sub(parent, "g", transform=transform)
        alpha = num(item.get("Alpha"))
        if alpha is not None and 0 <= alpha < 255:  # noqa: PLR2004 - Alpha is 0-255 (§8.3.1)
            group.set("opacity", fmt(alpha / 255))
        if kind == "TextObject":
            self._text(group, item)
        elif kind == "PathObject":
            self._path(group, item)
        else:
            self._image(group, item)

    def _text(self, group: ET.Element, item: ET.Element) -> None:
        size = num(item.get("Size"))
        if size is None or size <= 0:
            return
        group.set("font-size", fmt(size))
        group.set("font-family", family(self.resources.fonts.get(item.get("Font", ""))))
        fill = color(child(item, "FillColor")) or _BLACK
        group.set("fill", fill if item.get("Fill", "true") != "false" else "none")
        if item.get("Stroke", "false") == "true":
            group.set("stroke", color(child(item, "StrokeColor")) or _BLACK)
        weight = num(item.get("Weight"))
        if weight is not None and 100 <= weight <= 900:  # noqa: PLR2004 - CSS font-weight range
            group.set("font-weight", fmt(weight))
        if item.get("Italic") == "true":
            group.set("font-style", "italic")
        x: float | None = 0.0
        y: float | None = 0.0
        for code in children(item, "TextCode"):
            raw = code.text or ""
            self.budget.take_glyphs(len(raw))
            chars = clean(raw, len(raw))
            x = num(code.get("X")) if code.get("X") is not None else x
            y = num(code.get("Y")) if code.get("Y") is not None else y
            if x is None or y is None:
                return
            text = sub(
                group,
                "text",
                chars,
                x=_positions(x, code.get("DeltaX"), len(chars)),
                y=_positions(y, code.get("DeltaY"), len(chars)),
            )
            text.set(XML_SPACE, "preserve")

    def _path(self, group: ET.Element, item: ET.Element) -> None:
        abbreviated = child(item, "AbbreviatedData")
        data = path_data(abbreviated.text if abbreviated is not None else "", self.budget)
        if not data:
            return
        stroke = item.get("Stroke", "true") != "false"
        fill = item.get("Fill", "false") == "true"
        width = num(item.get("LineWidth"))
        attrs = {
            "d": data,
            "fill": (color(child(item, "FillColor")) or _BLACK) if fill else "none",
            "stroke": (color(child(item, "StrokeColor")) or _BLACK) if stroke else "none",
            "stroke-width": fmt(width if width is not None and width >= 0 else DEFAULT_LINE_WIDTH),
            "fill-rule": "evenodd" if item.get("Rule") == "Even-Odd" else "nonzero",
        }
        if item.get("Cap") in _CAPS:
            attrs["stroke-linecap"] = _CAPS[item.get("Cap", "")]
        if item.get("Join") in _JOINS:
            attrs["stroke-linejoin"] = _JOINS[item.get("Join", "")]
        ET.SubElement(group, "path", attrs)

    def _image(self, group: ET.Element, item: ET.Element) -> None:
        path = self.resources.media.get(item.get("ResourceID", ""))
        data = self.entries.get(path) if path else None
        uri = self._image_uri(data) if data is not None else None
        if uri is None:
            sub(group, "rect", x="0", y="0", width="1", height="1", fill="#d9d9d9")
            return
        sub(
            group,
            "image",
            x="0",
            y="0",
            width="1",
            height="1",
            preserveAspectRatio="none",
            href=uri,
        )

    def _image_uri(self, data: bytes) -> str | None:
        """A data: URI for a PNG/JPEG within the limits; None for formats browsers lack."""
        if sniff(data) not in ("PNG", "JPG"):
            return None
        self.budget.take_image(len(data))
        try:
            info = raster_info(data, max_side=2**32)
        except InvalidPicture:
            return None
        side = self.budget.limits.max_image_side
        if info.pixels is None or max(info.pixels) > side:
            raise PreviewTooLarge(f"an image is more than {side} pixels on a side")
        return data_uri(info.type, data)
