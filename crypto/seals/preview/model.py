"""Bounds of a preview and the running budget that enforces them while a page is drawn.

A public page renders documents anyone uploads, so every loop over untrusted content is
bounded by a count here: a hostile page fails fast with ``PreviewTooLarge`` instead of
producing a huge SVG, a hang or a ``MemoryError``. Defaults fit real one-page documents
(scanned pages included) with a wide margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crypto.seals.format.package import DEFAULT_LIMITS, Limits
from crypto.seals.preview.errors import PreviewTooLarge


@dataclass(frozen=True)
class PreviewLimits:
    """Caps on what one preview reads and draws; ``package`` bounds the ZIP itself."""

    max_pages: int = 10_000
    max_objects: int = 20_000
    max_glyphs: int = 200_000
    max_path_numbers: int = 400_000
    max_depth: int = 16
    max_image_bytes: int = 8 * 1024 * 1024
    max_total_image_bytes: int = 16 * 1024 * 1024
    max_image_side: int = 8192
    max_stamps: int = 64
    package: Limits = field(default=DEFAULT_LIMITS)


DEFAULT_PREVIEW_LIMITS = PreviewLimits()


class Budget:
    """What is left of each limit while one page is drawn (not shared between calls)."""

    def __init__(self, limits: PreviewLimits) -> None:
        self.limits = limits
        self.objects = limits.max_objects
        self.glyphs = limits.max_glyphs
        self.path_numbers = limits.max_path_numbers
        self.image_bytes = limits.max_total_image_bytes

    def take_object(self) -> None:
        """Count one drawn object (text, path, image, block, stamp)."""
        self.objects -= 1
        if self.objects < 0:
            raise PreviewTooLarge(f"the page has more than {self.limits.max_objects} objects")

    def take_glyphs(self, count: int) -> None:
        """Count the characters of one TextCode."""
        self.glyphs -= count
        if self.glyphs < 0:
            raise PreviewTooLarge(f"the page has more than {self.limits.max_glyphs} characters")

    def take_path_numbers(self, count: int) -> None:
        """Count the numbers of one path's AbbreviatedData."""
        self.path_numbers -= count
        if self.path_numbers < 0:
            raise PreviewTooLarge(
                f"the page's paths have more than {self.limits.max_path_numbers} coordinates"
            )

    def take_image(self, size: int) -> None:
        """Count one embedded image's bytes, against the per-image and the page limits."""
        if size > self.limits.max_image_bytes:
            raise PreviewTooLarge(f"an image is larger than {self.limits.max_image_bytes} bytes")
        self.image_bytes -= size
        if self.image_bytes < 0:
            raise PreviewTooLarge(
                f"the page's images are larger than {self.limits.max_total_image_bytes} bytes"
            )

    def check_depth(self, depth: int) -> None:
        """Refuse PageBlocks nested deeper than the limit."""
        if depth > self.limits.max_depth:
            raise PreviewTooLarge(f"objects are nested deeper than {self.limits.max_depth}")
