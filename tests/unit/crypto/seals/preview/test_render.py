"""The stamped page as SVG: page box, content, the stamp at its boundary, escaping, pages."""

from __future__ import annotations

import base64

import pytest

from crypto.seals.format import StampPosition
from crypto.seals.format.package import OFD_NS, read_package, write_package
from crypto.seals.format.testing import minimal_ofd, tiny_png
from crypto.seals.preview import NoSuchPage, render_stamped_page

from .conftest import SVG, make_ofd, parse, sign, stamps, text_object

ALLOWED = {f"{SVG}{t}" for t in ("svg", "g", "rect", "text", "path", "image", "circle")}
POSITION = StampPosition(page=1, x=130, y=200.5, width=42, height=40)


@pytest.fixture(scope="module")
def signed(sample) -> bytes:
    return sign(sample, minimal_ofd("Anbao 安保"), POSITION)


def test_svg_has_the_page_box_in_millimetres(signed):
    root = parse(render_stamped_page(signed))
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 210 297"
    assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
    assert "WenQuanYi Zen Hei" in root.get("font-family")
    assert "Noto Sans CJK SC" in root.get("font-family")
    assert root.get("font-family").endswith("sans-serif")


def test_the_stamp_is_the_seal_picture_at_the_stamp_annot_boundary(signed, sample):
    root = parse(render_stamped_page(signed))
    (stamp,) = stamps(root)
    (image,) = stamp.iter(f"{SVG}image")
    assert [image.get(a) for a in ("x", "y", "width", "height")] == ["130", "200.5", "42", "40"]
    prefix = "data:image/png;base64,"
    assert image.get("href").startswith(prefix)
    assert base64.b64decode(image.get("href")[len(prefix) :]) == sample.seal.info.picture.data


def test_page_text_is_drawn_at_its_position_with_its_colour(sample):
    data = sign(sample, make_ofd(text_object("第一行 text", x=30, y=40)))
    root = parse(render_stamped_page(data))
    (text,) = root.iter(f"{SVG}text")
    assert text.text == "第一行 text"
    group = next(g for g in root.iter(f"{SVG}g") if text in list(g))
    assert group.get("transform") == "translate(30 40)"
    assert group.get("fill") == "rgb(200,0,0)"
    assert group.get("font-size") == "5"
    assert group.get("font-family").startswith("'宋体', 'WenQuanYi Zen Hei'")
    assert (text.get("x"), text.get("y")) == ("0", "5")


def test_text_that_looks_like_markup_stays_text(sample):
    hostile = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;svg onload=&quot;x()&quot;&gt;"
    svg = render_stamped_page(sign(sample, make_ofd(text_object(hostile))))
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;svg onload=" in svg
    root = parse(svg)
    assert {e.tag for e in root.iter()} <= ALLOWED
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert '<script>alert(1)</script><svg onload="x()">' in texts
    assert not any(k.startswith("on") for e in root.iter() for k in e.attrib)


def test_a_font_name_cannot_inject_into_the_style():
    resources = ""
    objects = text_object("x", extra="")
    data = make_ofd(objects, resources=resources)
    entries = read_package(data)
    entries["Doc_0/PublicRes.xml"] = entries["Doc_0/PublicRes.xml"].replace(
        'FamilyName="宋体"'.encode(), b'FamilyName="x\'; } * { fill: url(http://e/x)"'
    )
    svg = render_stamped_page(write_package(entries))
    assert "http://e" not in svg
    assert "'宋体'" not in svg


def test_delta_x_places_each_character():
    code = '<ofd:TextCode X="1" Y="5" DeltaX="2 g 2 3">abcd</ofd:TextCode>'
    obj = f'<ofd:TextObject ID="5" Boundary="0 0 50 10" Font="3" Size="4">{code}</ofd:TextObject>'
    (text,) = parse(render_stamped_page(make_ofd(obj))).iter(f"{SVG}text")
    assert text.get("x") == "1 3 6 9"
    assert text.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"


def test_paths_become_svg_path_data():
    obj = (
        '<ofd:PathObject ID="6" Boundary="10 10 50 50" LineWidth="0.5" Fill="true" Rule="Even-Odd">'
        '<ofd:FillColor Value="0 255 0"/><ofd:StrokeColor Value="0 0 255"/>'
        "<ofd:AbbreviatedData>S 0 0 L 10 0 B 1 2 3 4 5 6 Q 1 1 2 2 A 1 1 0 1 0 5 5 M 7 7 C"
        "</ofd:AbbreviatedData></ofd:PathObject>"
    )
    (path,) = parse(render_stamped_page(make_ofd(obj))).iter(f"{SVG}path")
    assert path.get("d") == "M 0 0 L 10 0 C 1 2 3 4 5 6 Q 1 1 2 2 A 1 1 0 1 0 5 5 M 7 7 Z"
    assert path.get("fill") == "rgb(0,255,0)"
    assert path.get("stroke") == "rgb(0,0,255)"
    assert path.get("stroke-width") == "0.5"
    assert path.get("fill-rule") == "evenodd"


def test_a_path_stops_at_the_first_bad_command():
    obj = (
        '<ofd:PathObject ID="6" Boundary="0 0 5 5"><ofd:AbbreviatedData>M 0 0 L 1 nan L 2 2'
        "</ofd:AbbreviatedData></ofd:PathObject>"
    )
    (path,) = parse(render_stamped_page(make_ofd(obj))).iter(f"{SVG}path")
    assert path.get("d") == "M 0 0"


def _image_ofd(content: bytes, ctm: str = "") -> bytes:
    media = (
        '<ofd:MultiMedias><ofd:MultiMedia ID="7" Type="Image" Format="PNG">'
        "<ofd:MediaFile>img.bin</ofd:MediaFile></ofd:MultiMedia></ofd:MultiMedias>"
    )
    obj = f'<ofd:ImageObject ID="8" Boundary="10 20 30 40" ResourceID="7" {ctm}/>'
    return make_ofd(obj, resources=media, files={"Doc_0/Res/img.bin": content})


def test_images_come_from_the_resources_as_data_uris():
    png = tiny_png(3, 2)
    root = parse(render_stamped_page(_image_ofd(png)))
    (image,) = root.iter(f"{SVG}image")
    assert image.get("href") == "data:image/png;base64," + base64.b64encode(png).decode()
    group = next(g for g in root.iter(f"{SVG}g") if image in list(g))
    assert group.get("transform") == "translate(10 20) matrix(30 0 0 40 0 0)"


def test_an_image_browsers_cannot_show_is_a_grey_box():
    root = parse(render_stamped_page(_image_ofd(b"BM" + bytes(100), 'CTM="5 0 0 5 0 0"')))
    assert not list(root.iter(f"{SVG}image"))
    (rect,) = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "#d9d9d9"]
    assert rect.get("width") == "1"


def _two_pages(sample, stamp_page: int) -> bytes:
    data = make_ofd(text_object("PAGE-ONE"), text_object("PAGE-TWO"))
    return sign(sample, data, StampPosition(page=stamp_page, x=1, y=2, width=3, height=4))


def _texts(svg: str) -> list[str | None]:
    return [t.text for t in parse(svg).iter(f"{SVG}text")]


def test_the_page_shown_is_the_one_stamped(sample):
    data = _two_pages(sample, 2)
    svg = render_stamped_page(data)
    assert _texts(svg) == ["PAGE-TWO"]
    assert len(stamps(parse(svg))) == 1
    first = render_stamped_page(data, page=1)
    assert _texts(first) == ["PAGE-ONE"]
    assert stamps(parse(first)) == []


def test_every_stamp_on_the_page_is_drawn(sample):
    data = _two_pages(sample, 2)
    again = sign(sample, data, StampPosition(page=2, x=50, y=60, width=30, height=30))
    boxes = [
        next(s.iter(f"{SVG}image")).get("x") for s in stamps(parse(render_stamped_page(again)))
    ]
    assert boxes == ["1", "50"]


@pytest.mark.parametrize("page", [0, 3, -1])
def test_a_page_that_does_not_exist_is_a_domain_error(sample, page):
    with pytest.raises(NoSuchPage) as caught:
        render_stamped_page(_two_pages(sample, 1), page=page)
    assert caught.value.code == "seal_preview_no_page"


def test_an_unsigned_document_shows_its_first_page():
    svg = render_stamped_page(make_ofd(text_object("A"), text_object("B"), box="0 0 100 50"))
    root = parse(svg)
    assert root.get("viewBox") == "0 0 100 50"
    assert _texts(svg) == ["A"]
    assert stamps(root) == []


def test_the_ofdrw_vector_renders():
    from tests.paths import TESTS

    data = (TESTS / "vectors" / "seal" / "v1" / "v1_ofdrw.ofd").read_bytes()
    root = parse(render_stamped_page(data))
    (stamp,) = stamps(root)
    image = next(stamp.iter(f"{SVG}image"))
    assert [image.get(a) for a in ("x", "y", "width", "height")] == ["50", "50", "40", "40"]
    assert "GM/T 0031 v1 by ofdrw" in [t.text for t in root.iter(f"{SVG}text")]


def test_output_is_only_elements_the_renderer_creates(signed):
    root = parse(render_stamped_page(signed))
    assert {e.tag for e in root.iter()} <= ALLOWED


def test_template_pages_are_drawn_behind_and_in_front():
    template = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Content>'
        '<ofd:Layer ID="40">'
        + text_object("TEMPLATE", oid=41)
        + "</ofd:Layer></ofd:Content></ofd:Page>"
    )
    data = make_ofd(
        text_object("BODY"),
        document_extra='<ofd:TemplatePage ID="30" BaseLoc="Tpls/Tpl_0/Content.xml"/>',
        files={"Doc_0/Tpls/Tpl_0/Content.xml": template.encode()},
    )
    entries = read_package(data)
    page = "Doc_0/Pages/Page_0/Content.xml"
    for order, expected in (
        ("Background", ["TEMPLATE", "BODY"]),
        ("Foreground", ["BODY", "TEMPLATE"]),
    ):
        entries[page] = read_package(data)[page].replace(
            b"<ofd:Content>",
            f'<ofd:Template TemplateID="30" ZOrder="{order}"/><ofd:Content>'.encode(),
        )
        assert _texts(render_stamped_page(write_package(entries))) == expected
