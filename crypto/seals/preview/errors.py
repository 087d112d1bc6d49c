"""Errors of the stamped-page preview, under the e-seal format's ``MalformedSeal``.

A preview is drawn from a document someone uploaded: whatever it cannot draw safely is the
uploader's input, so every error here is a client error (``MalformedSeal`` maps to 400) with
a stable code. Package-level refusals (zip bomb, DTD, malformed XML) arrive as the format's
own ``UnsafePackage`` / ``MalformedSeal`` and are not wrapped.
"""

from __future__ import annotations

from crypto.seals.format.errors import MalformedSeal


class PreviewError(MalformedSeal):
    """Base class: an OFD page that cannot be previewed."""

    code = "seal_preview_failed"
    title = "The OFD page cannot be previewed"


class NoSuchPage(PreviewError):
    """The requested page (or the page a stamp names) is not in the document."""

    code = "seal_preview_no_page"
    title = "No such page in the OFD document"


class PreviewTooLarge(PreviewError):
    """The page goes beyond a preview limit (objects, glyphs, nesting, image bytes…)."""

    code = "seal_preview_too_large"
    title = "The OFD page is too large to preview"
