"""The demo's sample OFD documents as an independent reader sees them: ofdrw reads their Chinese
text and draws the page with its glyphs (tests/interop/ofdrw, ``text`` and ``render``)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from anbao.demo import data, samples
from tests.integration.crypto.seals.format.conftest import ofdrw_runner


def test_ofdrw_reads_and_draws_the_sample_text(tmp_path: Path) -> None:
    ofdrw = ofdrw_runner()
    for name, (title, lines) in data.SAMPLE_DOCUMENTS.items():
        path = tmp_path / name
        path.write_bytes(samples.text_ofd(title, lines))
        read = ofdrw("text", path)
        assert read.returncode == 0, read.stderr
        assert read.stdout.split() == [title, *lines]
        drawn = ofdrw("render", path, tmp_path / "page.png")
        assert drawn.returncode == 0, drawn.stderr
        # The title's first six characters, one 8 mm cell each at 5 px/mm from (30 mm, 20 mm):
        # six different glyphs, not six copies of the box a missing font is drawn as.
        with Image.open(tmp_path / "page.png") as page:
            gray = page.convert("L")
            cells = {gray.crop((150 + 40 * i, 95, 190 + 40 * i, 145)).tobytes() for i in range(6)}
        assert len(cells) == len(set(title[:6])), f"{name}: the title is not drawn as text"
