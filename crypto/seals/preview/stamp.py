"""Seal stamps on a preview: each StampAnnot's seal picture at its Boundary (GB/T 33190 §18).

The picture is the one inside the signature (SignedValue.dat's SES_Seal, GB/T 38540 §7.1),
the seal the signature actually carries, with Seal.esl as a fallback. PNG, JPEG and SVG
pictures that pass the format's own picture check are embedded as data: URIs; any other
picture (the OFD-format pictures of GM/T 0031 seals, or one that fails the check) and a
seal that does not decode are drawn as a red ring with the seal's name, so the page still
shows where a stamp is. Whether the seal is valid is the verification report's job, not
this picture's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from crypto.seals.format import asn1
from crypto.seals.format.errors import InvalidPicture, MalformedSeal
from crypto.seals.format.model import Seal
from crypto.seals.format.ofd import OfdSignature
from crypto.seals.format.picture import check_picture
from crypto.seals.preview import svg
from crypto.seals.preview.errors import PreviewTooLarge
from crypto.seals.preview.model import Budget

UNREADABLE = "印章无法读取"  # "the seal cannot be read"
_CAPTION_MM = 8.0


def seal_of(entries: Mapping[str, bytes], signature: OfdSignature) -> Seal | None:
    """The SES_Seal inside the signature's SignedValue.dat, else Seal.esl, else None."""
    value = entries.get(signature.signed_value_path)
    if value is not None:
        try:
            return asn1.decode_signature(value).seal
        except MalformedSeal:
            pass
    esl = entries.get(signature.seal_path) if signature.seal_path else None
    if esl is not None:
        try:
            return asn1.decode_seal(esl)
        except MalformedSeal:
            return None
    return None


def _picture_uri(seal: Seal, budget: Budget) -> str | None:
    picture = seal.info.picture
    try:
        info = check_picture(picture)
    except InvalidPicture:
        return None
    budget.take_image(len(picture.data))
    return svg.data_uri(info.type, picture.data)


def draw_seal(
    parent: ET.Element,
    bounds: tuple[float, float, float, float],
    seal: Seal | None,
    budget: Budget,
) -> None:
    """The seal's picture fitted into ``bounds`` (mm), or the red-ring placeholder."""
    uri = _picture_uri(seal, budget) if seal is not None else None
    if uri is None:
        name = seal.info.property.name if seal is not None else UNREADABLE
        svg.seal_placeholder(parent, bounds, name)
        return
    x, y, w, h = bounds
    svg.sub(
        parent,
        "image",
        x=svg.fmt(x),
        y=svg.fmt(y),
        width=svg.fmt(w),
        height=svg.fmt(h),
        preserveAspectRatio="xMidYMid meet",
        href=uri,
    )


def draw_stamps(
    parent: ET.Element,
    entries: Mapping[str, bytes],
    signatures: Sequence[OfdSignature],
    page_id: str,
    budget: Budget,
) -> int:
    """Every StampAnnot on ``page_id``, in Signatures.xml order; returns how many."""
    drawn = 0
    for signature in signatures:
        annots = [a for a in signature.stamp_annots if a.page_ref == page_id]
        if not annots:
            continue
        seal = seal_of(entries, signature)
        for annot in annots:
            bounds = svg.box(annot.boundary)
            if bounds is None:
                continue
            drawn += 1
            if drawn > budget.limits.max_stamps:
                raise PreviewTooLarge(f"the page has more than {budget.limits.max_stamps} stamps")
            budget.take_object()
            draw_seal(svg.sub(parent, "g", class_="stamp"), bounds, seal, budget)
    return drawn


def seal_svg(seal: Seal, budget: Budget) -> str:
    """A seal's picture at its size in mm with its name underneath, as an SVG document."""
    picture = seal.info.picture
    w = float(min(max(picture.width_mm, 1), 1000))
    h = float(min(max(picture.height_mm, 1), 1000))
    root = svg.root(0, 0, w, h + _CAPTION_MM)
    draw_seal(root, (0.0, 0.0, w, h), seal, budget)
    name = svg.clean(seal.info.property.name, 200)
    svg.sub(
        root,
        "text",
        name,
        x=svg.fmt(w / 2),
        y=svg.fmt(h + _CAPTION_MM * 0.7),
        font_size=svg.fmt(min(_CAPTION_MM * 0.6, w * 0.95 / max(len(name), 1))),
        text_anchor="middle",
        fill="rgb(0,0,0)",
    )
    return svg.serialise(root)
