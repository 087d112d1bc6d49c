"""A picture of a stamped OFD page (and of a seal) as SVG, for the public verify page.

``render_stamped_page(ofd)`` draws the page a seal is stamped on, with the seal's picture
at its StampAnnot; ``render_seal(der)`` draws a seal's picture with its name. Both return a
standalone SVG document (``str``) built from parsed values only, to be shown as an image.
"""

from __future__ import annotations

from crypto.seals.preview.errors import NoSuchPage, PreviewError, PreviewTooLarge
from crypto.seals.preview.model import DEFAULT_PREVIEW_LIMITS, PreviewLimits
from crypto.seals.preview.render import render_seal, render_stamped_page

__all__ = [
    "DEFAULT_PREVIEW_LIMITS",
    "NoSuchPage",
    "PreviewError",
    "PreviewLimits",
    "PreviewTooLarge",
    "render_seal",
    "render_stamped_page",
]
