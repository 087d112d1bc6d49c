"""Render the stamped page of a signed OFD as a standalone SVG (the console's verify page).

Anyone may upload a document to the public verification page; beside the report of each
check they see the page with the seal where the signature put it. The SVG is built with
ElementTree from parsed values only and shown through ``<img src="data:image/svg+xml…">``,
so no script of the input can run, and every loop is bounded (``PreviewLimits``).

The package, its XML and its signatures are read by the e-seal format's own safe readers
(``crypto.seals.format``): this module adds the page model of GB/T 33190 (pages, templates,
resources) on top of them and no second ZIP, XML or DER parser.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from crypto.seals.format import asn1
from crypto.seals.format.ofd import OfdDocument, OfdSignature, open_document, read_signatures
from crypto.seals.format.package import child, children, parse_xml, resolve, text_of
from crypto.seals.preview import svg
from crypto.seals.preview.content import Painter, Resources
from crypto.seals.preview.errors import NoSuchPage, PreviewTooLarge
from crypto.seals.preview.model import DEFAULT_PREVIEW_LIMITS, Budget, PreviewLimits
from crypto.seals.preview.stamp import draw_stamps, seal_svg

A4 = (0.0, 0.0, 210.0, 297.0)


@dataclass(frozen=True)
class _Page:
    id: str
    path: str


@dataclass(frozen=True)
class _Context:
    doc: OfdDocument
    document: ET.Element
    limits: PreviewLimits

    @property
    def doc_dir(self) -> str:
        return posixpath.dirname(self.doc.doc_root)

    def xml(self, path: str) -> ET.Element | None:
        content = self.doc.entries.get(path)
        return None if content is None else parse_xml(content, path, self.limits.package)


def _pages(ctx: _Context) -> list[_Page]:
    """Document.xml's Pages in reading order (GB/T 33190 §7.5), at most ``max_pages``."""
    pages = child(ctx.document, "Pages")
    listed = children(pages, "Page") if pages is not None else []
    if len(listed) > ctx.limits.max_pages:
        raise PreviewTooLarge(f"the document lists more than {ctx.limits.max_pages} pages")
    return [
        _Page(p.get("ID", str(n)), resolve(p.get("BaseLoc", ""), ctx.doc_dir))
        for n, p in enumerate(listed, 1)
    ]


def _choose(pages: list[_Page], signatures: list[OfdSignature], page: int | None) -> _Page:
    """The requested page (1-based), else the first page a stamp is on, else page 1."""
    if page is not None:
        if not 1 <= page <= len(pages):
            raise NoSuchPage(f"the document has no page {page} (it has {len(pages)})")
        return pages[page - 1]
    by_id = {p.id: p for p in pages}
    for signature in signatures:
        for annot in signature.stamp_annots:
            if annot.page_ref in by_id:
                return by_id[annot.page_ref]
    if not pages:
        raise NoSuchPage("the document has no pages")
    return pages[0]


def _physical_box(ctx: _Context, page: ET.Element) -> tuple[float, float, float, float]:
    """The page's own Area, else CommonData's PageArea (§7.5, §7.6); A4 if neither parses."""
    common = child(ctx.document, "CommonData")
    for area in (child(page, "Area"), child(common, "PageArea") if common is not None else None):
        bounds = svg.box(text_of(child(area, "PhysicalBox"))) if area is not None else None
        if bounds is not None and bounds[2] > 0 and bounds[3] > 0:
            return bounds
    return A4


def _resource_files(ctx: _Context, page: ET.Element, page_dir: str) -> list[str]:
    common = child(ctx.document, "CommonData")
    found = [
        resolve(text_of(r), ctx.doc_dir)
        for r in (
            children(common, "PublicRes") + children(common, "DocumentRes")
            if common is not None
            else []
        )
        if text_of(r)
    ]
    return found + [resolve(text_of(r), page_dir) for r in children(page, "PageRes") if text_of(r)]


def _resources(ctx: _Context, files: list[str]) -> Resources:
    """Fonts and multimedia of the resource files (§7.9); MediaFile is under BaseLoc."""
    fonts: dict[str, str] = {}
    media: dict[str, str] = {}
    for path in files:
        res = ctx.xml(path)
        if res is None:
            continue
        base = posixpath.dirname(path)
        media_dir = resolve(res.get("BaseLoc", ""), base) if res.get("BaseLoc") else base
        for font in (f for group in children(res, "Fonts") for f in children(group, "Font")):
            fonts[font.get("ID", "")] = font.get("FamilyName") or font.get("FontName") or ""
        for item in (
            m for group in children(res, "MultiMedias") for m in children(group, "MultiMedia")
        ):
            location = text_of(child(item, "MediaFile"))
            if location:
                media[item.get("ID", "")] = resolve(location, media_dir)
    return Resources(fonts, media)


def _templates(ctx: _Context, page: ET.Element) -> tuple[list[ET.Element], list[ET.Element]]:
    """The page's template pages (§7.6), split into background and foreground."""
    common = child(ctx.document, "CommonData")
    known = {
        t.get("ID", ""): resolve(t.get("BaseLoc", ""), ctx.doc_dir)
        for t in (children(common, "TemplatePage") if common is not None else [])
        if t.get("BaseLoc")
    }
    back: list[ET.Element] = []
    front: list[ET.Element] = []
    for ref in children(page, "Template")[:8]:
        path = known.get(ref.get("TemplateID", ""))
        template = ctx.xml(path) if path else None
        if template is not None:
            (front if ref.get("ZOrder") == "Foreground" else back).append(template)
    return back, front


def render_stamped_page(
    ofd: bytes, *, page: int | None = None, limits: PreviewLimits = DEFAULT_PREVIEW_LIMITS
) -> str:
    """A standalone SVG of the page carrying the first seal stamp, or of page ``page``.

    ``page`` is 1-based, as people count pages (and as ``StampPosition.page``); an unsigned
    document shows its first page. The viewBox is the page's PhysicalBox in millimetres.
    Drawn: text, simple paths and PNG/JPEG images of the page and its templates, then every
    StampAnnot on the page with its seal's picture at its Boundary. A seal picture that is
    not PNG, JPEG or a checked SVG (the OFD-format pictures of GM/T 0031 seals) is drawn as
    a red ring with the seal's name, as is a seal that does not decode.

    Raises ``MalformedSeal`` (400) for input that cannot be shown: its subclasses
    ``UnsafePackage`` (zip bomb, DTD, path traversal), ``NoSuchPage`` and
    ``PreviewTooLarge`` (a limit of ``limits`` exceeded), each with a stable ``code``.
    """
    doc = open_document(ofd, limits.package)
    document = parse_xml(doc.entries.get(doc.doc_root, b""), doc.doc_root, limits.package)
    ctx = _Context(doc, document, limits)
    signatures = read_signatures(doc)
    chosen = _choose(_pages(ctx), signatures, page)
    content = ctx.xml(chosen.path)
    if content is None:
        raise NoSuchPage(f"page {chosen.path} is missing from the package")
    budget = Budget(limits)
    x, y, w, h = _physical_box(ctx, content)
    root = svg.root(x, y, w, h)
    svg.sub(
        root,
        "rect",
        x=svg.fmt(x),
        y=svg.fmt(y),
        width=svg.fmt(w),
        height=svg.fmt(h),
        fill="#ffffff",
    )
    painter = Painter(
        doc.entries,
        _resources(ctx, _resource_files(ctx, content, posixpath.dirname(chosen.path))),
        budget,
    )
    back, front = _templates(ctx, content)
    for layer in (*back, content, *front):
        painter.layers(svg.sub(root, "g"), layer)
    draw_stamps(svg.sub(root, "g", class_="stamps"), doc.entries, signatures, chosen.id, budget)
    return svg.serialise(root)


def render_seal(seal_der: bytes, *, limits: PreviewLimits = DEFAULT_PREVIEW_LIMITS) -> str:
    """A standalone SVG of a seal's picture (its size in mm) with the seal's name below.

    Takes an SESeal (v4 or GM/T 0031 v1) in DER; raises ``MalformedSeal`` if it does not
    decode. Pictures that cannot be embedded are drawn as in ``render_stamped_page``.
    """
    return seal_svg(asn1.decode_seal(seal_der), Budget(limits))
