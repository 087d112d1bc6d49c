"""The seals page's pure helpers: the application body and the signed file's name."""

from __future__ import annotations

import base64

from anbao.console.pages.seals import application, signed_name
from anbao.console.web import Upload


def test_the_application_body_is_what_the_api_reads() -> None:
    picture = Upload("印章.PNG", "image/png", b"\x89PNG...")
    body = application(
        {
            "org_node": " 530102 ",
            "org_name": "五华区数据局",
            "uscc": "11530102mb01234567",
            "name": "公章",
            "holders": "demo-seal-user\uff0calice, bob",
            "width_mm": "40",
            "height_mm": "forty",
            "valid_days": "365",
        },
        picture,
    )
    assert body["org_node"] == "530102"
    assert body["uscc"] == "11530102MB01234567"
    assert body["holders"] == ["demo-seal-user", "alice", "bob"]
    assert body["picture_type"] == "PNG"
    assert base64.b64decode(body["picture"]) == picture.data
    assert body["width_mm"] == 40
    assert body["height_mm"] == "forty"  # the API refuses it with its own reason
    assert body["valid_days"] == 365


def test_the_signed_file_keeps_the_name_without_a_path() -> None:
    assert signed_name("通知.ofd") == "通知-signed.ofd"
    assert signed_name("C:\\docs\\notice.OFD") == "notice-signed.ofd"
    assert signed_name("../x/report") == "report-signed.ofd"
    assert signed_name("") == "document-signed.ofd"
