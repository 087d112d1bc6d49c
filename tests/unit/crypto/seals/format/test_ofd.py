"""OFD signing and verification: layout, several signatures, tampering of each part."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crypto.seals.format import SigningRefused, StampPosition, sign_ofd, verify_ofd
from crypto.seals.format.ofd import open_document, read_signatures
from crypto.seals.format.package import read_package, write_package
from crypto.seals.format.testing import minimal_ofd

from .conftest import NOW, statuses

T1, T2 = NOW + timedelta(hours=1), NOW + timedelta(hours=2)


def _sign(sample, data, when=T1, **kw):
    return sign_ofd(data, seal=sample.seal, key=sample.key, cert=sample.cert, now=when, **kw)


@pytest.fixture(scope="module")
def signed(sample):
    return _sign(sample, minimal_ofd())


def test_layout_follows_gbt_33190(signed, sample):
    entries = read_package(signed)
    assert b"<ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures>" in entries["OFD.xml"]
    for name in (
        "Signatures.xml",
        "Sign_0/Signature.xml",
        "Sign_0/SignedValue.dat",
        "Sign_0/Seal.esl",
    ):
        assert f"Doc_0/Signs/{name}" in entries
    assert entries["Doc_0/Signs/Sign_0/Seal.esl"] == sample.seal.der
    (sig,) = read_signatures(open_document(signed))
    assert sig.type == "Seal"
    assert sig.check_method == "1.2.156.10197.1.401"
    assert {r.path for r in sig.references} == {
        "OFD.xml",
        "Doc_0/Document.xml",
        "Doc_0/PublicRes.xml",
        "Doc_0/Pages/Page_0/Content.xml",
        "Doc_0/Signs/Sign_0/Seal.esl",
    }
    assert sig.stamp_annots[0].page_ref == "2"
    assert sig.stamp_annots[0].boundary == "20 20 40 40"


def test_signed_ofd_is_valid(signed, opts):
    report = verify_ofd(signed, opts)
    assert str(report.status) == "valid", report.to_text()
    got = statuses(report)
    assert got["references"] == got["seal_file"] == got["document_hash"] == "pass"


def test_second_signature_keeps_the_first_valid(signed, sample, opts):
    twice = _sign(
        sample, signed, when=T2, position=StampPosition(page=1, x=100, y=200, width=42, height=42)
    )
    report = verify_ofd(twice, opts)
    assert len(report.signatures) == 2
    assert [str(s.status) for s in report.signatures] == ["valid", "valid"], report.to_text()
    assert (
        "Sign_1" in report.signatures[0].checks[-3].reason
    )  # newer files are named as not covered


def test_changed_content_fails_references(signed, opts):
    entries = read_package(signed)
    entries["Doc_0/Pages/Page_0/Content.xml"] = entries["Doc_0/Pages/Page_0/Content.xml"].replace(
        b"Anbao", b"Evil!"
    )
    report = verify_ofd(write_package(entries), opts)
    assert statuses(report)["references"] == "fail"
    assert str(report.status) == "invalid"


def test_changed_signature_xml_fails_hash(signed, opts):
    entries = read_package(signed)
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    entries[path] = entries[path].replace(b'Boundary="20 20 40 40"', b'Boundary="90 90 40 40"')
    assert statuses(verify_ofd(write_package(entries), opts))["document_hash"] == "fail"


def test_swapped_seal_file_fails(signed, opts):
    from crypto.seals.format.testing import make_sample_seal

    entries = read_package(signed)
    entries["Doc_0/Signs/Sign_0/Seal.esl"] = make_sample_seal(NOW).seal.der
    got = statuses(verify_ofd(write_package(entries), opts))
    assert got["seal_file"] == "fail"
    assert got["references"] == "fail"


def test_unsigned_document_is_invalid(opts):
    report = verify_ofd(minimal_ofd(), opts)
    assert str(report.status) == "invalid"
    assert statuses(report)["signatures"] == "fail"


def test_refuses_when_an_earlier_signature_protects_the_list(signed, sample):
    entries = read_package(signed)
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    entries[path] = entries[path].replace(
        b"</ofd:References>",
        b'<ofd:Reference FileRef="/Doc_0/Signs/Signatures.xml"><ofd:CheckValue>AA==</ofd:CheckValue></ofd:Reference></ofd:References>',
    )
    with pytest.raises(SigningRefused, match="no more signatures"):
        _sign(sample, write_package(entries))


def test_bad_page_is_refused(sample):
    with pytest.raises(SigningRefused, match="no page 3"):
        _sign(sample, minimal_ofd(), position=StampPosition(page=3))


def _two_pages() -> bytes:
    """minimal_ofd with a second page; page IDs 7 and 2 are object IDs, not numbers."""
    entries = read_package(minimal_ofd())
    doc = entries["Doc_0/Document.xml"].replace(b'ID="2"', b'ID="7"')
    entries["Doc_0/Document.xml"] = doc.replace(
        b"</ofd:Pages>", b'<ofd:Page ID="2" BaseLoc="Pages/Page_1/Content.xml"/></ofd:Pages>'
    )
    entries["Doc_0/Pages/Page_1/Content.xml"] = entries["Doc_0/Pages/Page_0/Content.xml"]
    return write_package(entries)


def test_report_names_stamp_pages_by_number_not_object_id(sample, opts):
    first = _sign(sample, _two_pages(), position=StampPosition(page=2, x=10, y=20))
    both = _sign(sample, first, when=T2, position=StampPosition(page=1))
    (one, two) = read_signatures(open_document(both))
    assert (one.stamp_annots[0].page_ref, two.stamp_annots[0].page_ref) == ("2", "7")
    report = verify_ofd(both, opts)
    assert [s.facts["stamp"] for s in report.signatures] == [
        "page 2 at 10 20 40 40 mm",
        "page 1 at 20 20 40 40 mm",
    ]
    assert "stamp: page 2 at 10 20 40 40 mm" in report.to_text()
