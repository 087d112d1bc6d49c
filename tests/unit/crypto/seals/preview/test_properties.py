"""Properties: any text survives as text; any mutation of the page XML gives a well-formed SVG
or a ``MalformedSeal`` — never another exception."""

from __future__ import annotations

import contextlib
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.seals.format import MalformedSeal
from crypto.seals.format.package import read_package, write_package
from crypto.seals.preview import render_stamped_page
from crypto.seals.preview.content import deltas
from crypto.seals.preview.svg import clean

from .conftest import SVG, make_ofd, parse, sign, text_object

_SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
_XML_CHARS = st.characters(codec="utf-8").filter(lambda c: clean(c) == c and c != "\r")


@_SETTINGS
@given(st.text(_XML_CHARS, min_size=1, max_size=60).filter(lambda t: t.strip() == t))
def test_any_text_is_drawn_as_the_same_text(text):
    root = parse(render_stamped_page(make_ofd(text_object(escape(text)))))
    assert [t.text for t in root.iter(f"{SVG}text")] == [text]


@pytest.fixture(scope="module")
def signed_entries(sample) -> dict[str, bytes]:
    return read_package(sign(sample, make_ofd(text_object("x") + _PATH)))


@_SETTINGS
@given(
    target=st.sampled_from(
        ["Doc_0/Pages/Page_0/Content.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml"]
    ),
    edits=st.lists(
        st.tuples(st.integers(0, 1 << 12), st.binary(max_size=6)), min_size=1, max_size=4
    ),
)
def test_mutated_page_xml_never_crashes(signed_entries, target, edits):
    entries = dict(signed_entries)
    content = bytearray(entries[target])
    for pos, chunk in edits:
        at = pos % len(content)
        content[at : at + len(chunk)] = chunk
    entries[target] = bytes(content)
    with contextlib.suppress(MalformedSeal):
        parse(render_stamped_page(write_package(entries)))


@given(st.text(max_size=40), st.integers(0, 50))
def test_deltas_never_exceed_the_count(text, count):
    assert len(deltas(text, count)) <= count


_PATH = (
    '<ofd:PathObject ID="6" Boundary="1 2 30 40" CTM="1 0 0 1 0 0" Stroke="true">'
    "<ofd:AbbreviatedData>M 0 0 L 10 10 B 1 2 3 4 5 6 C</ofd:AbbreviatedData></ofd:PathObject>"
)
